"""The import contracts of DESIGN.md's "Layers" hold, and they can fail.

The contracts live in pyproject.toml (``[tool.importlinter]``): the layer order, only ``__main__``
importing the CLI, the service never importing Jinja2 or the rule renderer, no cycles between sibling
modules. A static check cannot see a package ``__init__`` that pulls a module in at run time, so the
service is also imported in a fresh interpreter and its ``sys.modules`` inspected.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import promcast

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(promcast.__file__).resolve().parent
LINT = ("from importlinter.cli import lint_imports; "
        "raise SystemExit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")


def lint(pythonpath: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(pythonpath)})


def test_import_contracts_hold():
    result = lint(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " kept, 0 broken" in result.stdout, result.stdout


def test_a_library_module_importing_the_cli_or_the_service_importing_jinja2_breaks_the_contracts(tmp_path):
    copy = tmp_path / "promcast"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "maintenance" / "report.py", "a") as fh:
        fh.write("\nfrom ..cli import main  # noqa: E402\n")
    with open(copy / "service" / "grafana.py", "a") as fh:
        fh.write("\nimport jinja2  # noqa: E402\n")
    result = lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "only promcast.__main__ imports promcast.cli BROKEN" in out, out
    assert "the service never imports Jinja2 or the rule renderer BROKEN" in out, out
    assert "promcast.maintenance is not allowed to import promcast.cli" in out, out


def test_the_service_loads_without_the_rule_renderer(tmp_path):
    """Flask imports Jinja2 itself; what must stay out is promcast's renderer and the rest of the rules
    pipeline, even with an exported RuleSpec parsed at start-up (the service reads rules.spec only)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""\
        apiVersion: promcast/v1
        kind: RuleSpec
        metadata: {name: exported}
        source: {demo: true, end: "2026-11-20T00:00:00Z", history: 1d, step: 10m}
        targets:
          - {name: cpu, kind: anomaly_band, mode: exported, model: mad, expr: 'node_cpu_utilisation'}
        """))
    code = textwrap.dedent(f"""\
        import json, sys
        import promcast.service
        from promcast.config import load_settings
        from promcast.service.app import create_app
        app = create_app(load_settings(environ={{"PROMCAST_EXPORTED_SPEC": {str(spec)!r},
                                                "PROMCAST_DEMO_NOW": "2026-11-20T00:00:00Z"}}))
        assert "promcast.exported" in app.extensions
        print(json.dumps(sorted(sys.modules)))
        """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PACKAGE.parent)})
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "promcast.rules.spec" in loaded  # the exported targets were read...
    rules = sorted(m for m in loaded if m.startswith("promcast.rules"))
    assert rules == ["promcast.rules", "promcast.rules.spec"], rules  # ...and nothing else of the rules
    assert "promcast.cli" not in loaded
