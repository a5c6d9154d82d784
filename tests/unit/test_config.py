import pytest

from promcast.config import describe_settings, env_name, load_settings
from promcast.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "promcast.yaml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_env():
    settings = load_settings(environ={})
    assert settings.server.port == 8080
    assert settings.server.host == "127.0.0.1"
    assert settings.prometheus.url is None
    assert settings.cache.refit_interval == 900.0


def test_file_values_and_env_wins(tmp_path):
    path = write(tmp_path, "server: {port: 9000}\nprometheus:\n  url: http://prom:9090/\n  timeout: 2m\n")
    settings = load_settings(path, environ={"PROMCAST_SERVER_PORT": "9100"})
    assert settings.server.port == 9100
    assert settings.prometheus.url == "http://prom:9090"
    assert settings.prometheus.timeout == 120.0


def test_config_path_from_env(tmp_path):
    path = write(tmp_path, "log_level: debug\n")
    assert load_settings(environ={"PROMCAST_CONFIG": str(path)}).log_level == "debug"


def test_headers_from_env_json_and_pairs():
    a = load_settings(environ={"PROMCAST_PROMETHEUS_HEADERS": '{"X-Scope-OrgID": "team-a"}'})
    b = load_settings(environ={"PROMCAST_PROMETHEUS_HEADERS": "X-Scope-OrgID=team-a"})
    assert a.prometheus.headers == b.prometheus.headers == {"X-Scope-OrgID": "team-a"}


@pytest.mark.parametrize(
    "text, needles",
    [
        ("server: {prot: 1}\n", ["unknown setting 'server.prot'", "port"]),
        ("serve: {port: 1}\n", ["unknown setting 'serve'", "server"]),
        ("server: {port: 99999}\n", ["server.port", "99999", "between 1 and 65535"]),
        ("prometheus: {url: prom:9090}\n", ["prometheus.url", "http://"]),
        ("prometheus: {timeout: soon}\n", ["prometheus.timeout", "'soon'", "duration"]),
        ("log_level: loud\n", ["log_level", "'loud'", "debug, info"]),
        ("- a\n- b\n", ["must hold a mapping"]),
        ("server: {port: [1\n", ["not valid YAML", "line"]),
    ],
)
def test_bad_file_names_key_value_and_allowed(tmp_path, text, needles):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text), environ={})
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_bad_env_value_names_variable():
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"PROMCAST_SERVER_PORT": "eighty"})
    assert "PROMCAST_SERVER_PORT" in str(err.value) and "'eighty'" in str(err.value)


def test_secrets_are_not_echoed():
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"PROMCAST_AUTH_USERNAME": "admin"})
    assert "must be set together" in str(err.value)


def test_unknown_env_var_is_warned_not_fatal(caplog):
    load_settings(environ={"PROMCAST_PROMETHEUS_ULR": "x"})
    assert "PROMCAST_PROMETHEUS_ULR" in caplog.text


def test_every_setting_has_env_name():
    rows = describe_settings()
    assert ("prometheus.url", "PROMCAST_PROMETHEUS_URL") in [(k, e) for k, e, _ in rows]
    assert env_name("cache.refit_interval") == "PROMCAST_CACHE_REFIT_INTERVAL"


def test_ensemble_score_weights_default_file_env_and_errors(tmp_path):
    """``models.ensemble_score_weights``: None (the cross-validated default) unless set; a file mapping, an
    env JSON or ``k=v`` pairs; unknown members and negative weights are refused naming the key."""
    from promcast.service.fitting import model_extra_params

    default = load_settings(environ={}).models
    assert default.ensemble_score_weights is None
    assert model_extra_params("ensemble", default) == {"weights": {"prophet": 0.3, "lstm": 0.4, "iforest": 0.3}}
    assert model_extra_params("ensemble", default, forecast=False) == {}
    path = write(tmp_path, "models: {ensemble_score_weights: {artime: 0.5, cad_ose: 0.5}}\n")
    models = load_settings(path, environ={}).models
    assert models.ensemble_score_weights == {"artime": 0.5, "cad_ose": 0.5}
    assert model_extra_params("ensemble", models, forecast=False) == {"score_weights": {"artime": 0.5, "cad_ose": 0.5}}
    assert model_extra_params("mad", models) == {}
    env = load_settings(path, environ={"PROMCAST_MODELS_ENSEMBLE_SCORE_WEIGHTS": "iforest=1,knn=1"}).models
    assert env.ensemble_score_weights == {"iforest": 1.0, "knn": 1.0}
    for bad in ("{nope: 1}", "{cad_ose: -1}"):
        with pytest.raises(ConfigError) as err:
            load_settings(write(tmp_path, f"models: {{ensemble_score_weights: {bad}}}\n"), environ={})
        assert "models.ensemble_score_weights" in str(err.value) and "cad_ose" in str(err.value)
