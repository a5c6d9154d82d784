import base64

import pytest

from promcast.config import load_settings
from promcast.service.app import create_app
from promcast.sources.files import FileSource


@pytest.fixture
def csv_source(tmp_path):
    path = tmp_path / "cpu.csv"
    path.write_text("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,2\n")
    return FileSource(path)


def make_client(source, environ=None):
    app = create_app(load_settings(environ=environ or {}), source=source)
    return app.test_client()


def test_grafana_root_is_200(csv_source):
    response = make_client(csv_source).get("/grafana/")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/grafana", "/grafana/", "/grafana//"])
def test_save_and_test_url_answers_in_place(csv_source, path):
    """The plugin's "Save & test" GETs the URL exactly as provisioned (no slash); Grafana's proxy does not
    follow redirects, so anything but a 200 here is "Data source is not working"."""
    response = make_client(csv_source).get(path)
    assert response.status_code == 200 and "Location" not in response.headers
    assert response.get_json()["status"] == "ok"


@pytest.mark.parametrize("endpoint", ["metrics", "metric-payload-options", "query", "variable", "tag-keys",
                                      "tag-values"])
@pytest.mark.parametrize("spelling", ["/grafana/{}", "/grafana/{}/", "/grafana//{}"])
def test_every_plugin_endpoint_answers_without_redirect(csv_source, endpoint, spelling):
    response = make_client(csv_source).post(spelling.format(endpoint), json={})
    assert response.status_code not in (301, 302, 303, 307, 308, 404, 405), response.get_data()
    assert "Location" not in response.headers


def test_own_metrics_count_requests(csv_source):
    client = make_client(csv_source)
    client.get("/grafana/")
    client.get("/grafana/nope")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'promcast_http_requests_total{endpoint="/grafana",method="GET",status="200"} 1.0' in text
    assert "promcast_http_request_duration_seconds_bucket" in text
    assert 'promcast_errors_total{code="not_found"} 1.0' in text
    assert "promcast_model_cache_hits_total" in text


def test_unknown_path_is_json_404(csv_source):
    response = make_client(csv_source).get("/grafana/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_bearer_and_basic_auth(csv_source):
    client = make_client(csv_source, {"PROMCAST_AUTH_BEARER_TOKEN": "s3cret",
                                      "PROMCAST_AUTH_USERNAME": "grafana", "PROMCAST_AUTH_PASSWORD": "pw"})
    assert client.get("/grafana/").status_code == 401
    assert client.get("/grafana/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/grafana/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    good = base64.b64encode(b"grafana:pw").decode()
    bad = base64.b64encode(b"grafana:nope").decode()
    assert client.get("/grafana/", headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert client.get("/grafana/", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    assert client.get("/grafana/", headers={"Authorization": "Basic !!!"}).status_code == 401
    body = client.get("/grafana/").get_json()
    assert body == {"message": "missing or wrong credentials for promcast",
                    "error": {"code": "unauthorized", "message": "missing or wrong credentials for promcast"}}
    assert client.get("/metrics").status_code == 200
