"""Templates, dashboards and provisioning must be found from a checkout and from an installed wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from promcast.resources import data_dir

REPO = Path(__file__).resolve().parents[2]


def test_checkout_finds_data_folders():
    for name in ("rules_templates", "dashboards", "provisioning"):
        assert data_dir(name) == REPO / name


def test_unknown_folder_is_refused():
    with pytest.raises(ValueError, match="unknown data folder"):
        data_dir("secrets")


@pytest.mark.slow
def test_wheel_ships_data_and_finds_it(tmp_path):
    build = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
                           cwd=REPO, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("promcast-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("rules_templates", "dashboards", "provisioning"):
        assert any(n.startswith(f"promcast/_data/{folder}/") for n in names), folder
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = subprocess.run(
        [sys.executable, "-c", "from promcast.resources import data_dir; print(data_dir('dashboards'))"],
        cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()) == site / "promcast" / "_data" / "dashboards"
