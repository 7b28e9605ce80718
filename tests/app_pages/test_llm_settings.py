"""The LLM settings widget: the server's key goes only to the endpoint it is configured for."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.page_helpers import texts, widget

SERVER_ENV = (
    "OPENAI_API_KEY",
    "RAGTUNE_LLM_API_KEY",
    "OPENAI_BASE_URL",
    "RAGTUNE_LLM_BASE_URL",
    "RAGTUNE_ALLOWED_HOSTS",
    "RAGTUNE_JOB_LLM_API_KEY",
)


def settings_app():
    import streamlit as st

    from app_pages.widgets.llm_settings import llm_settings

    config = llm_settings("t")
    st.session_state["config"] = (
        None
        if config is None
        else {
            "base_url": config.base_url,
            "api_key": config.api_key,
            "resolved": config.resolved_api_key(),
            "secret_env": config.secret_env(),
            "timeout": config.timeout,
            "max_retries": config.max_retries,
        }
    )


@pytest.fixture
def app(monkeypatch, tmp_path):
    for name in SERVER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))  # the settings read its price table

    def open_app(**secrets) -> AppTest:
        at = AppTest.from_function(settings_app, default_timeout=60)
        for name, value in secrets.items():
            at.secrets[name] = value
        return at.run()

    return open_app


def test_the_server_key_goes_only_to_openai_when_no_endpoint_is_configured(app, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server")
    at = app()
    assert widget(at, "text_input", "Base URL").value == "https://api.openai.com/v1"
    assert at.session_state["config"]["api_key"] == "sk-server"

    widget(at, "text_input", "Base URL").input("http://127.0.0.1:9/v1").run()
    config = at.session_state["config"]
    assert config["api_key"] is None and config["resolved"] is None and config["secret_env"] == {}
    assert "sent only to the endpoint it is configured for" in texts(at.caption)

    widget(at, "text_input", "API key").input("sk-typed").run()
    assert at.session_state["config"]["api_key"] == "sk-typed"
    assert list(at.session_state["config"]["secret_env"].values()) == ["sk-typed"]


def test_a_configured_endpoint_and_a_key_in_secrets_follow_the_same_rule(app):
    at = app(OPENAI_API_KEY="sk-from-secrets", RAGTUNE_LLM_BASE_URL="http://10.0.0.5:8000/v1")
    assert widget(at, "text_input", "Base URL").value == "http://10.0.0.5:8000/v1"
    assert at.session_state["config"]["api_key"] == "sk-from-secrets"
    widget(at, "text_input", "Base URL").input("https://api.openai.com/v1").run()
    assert at.session_state["config"]["api_key"] is None  # OpenAI is not this server's endpoint
    assert at.error == []  # a missing key for OpenAI is reported where the config is used


def test_timeout_and_retries_reach_the_config(app):
    at = app()
    widget(at, "text_input", "Base URL").input("http://127.0.0.1:9/v1")
    widget(at, "number_input", "Timeout per request (s)").set_value(5.0)
    widget(at, "number_input", "Retries").set_value(1).run()
    config = at.session_state["config"]
    assert (config["timeout"], config["max_retries"]) == (5.0, 1)


def test_a_url_off_the_allow_list_is_refused_on_the_page(app, monkeypatch):
    monkeypatch.setenv("RAGTUNE_ALLOWED_HOSTS", "llm.example.org")
    at = app()
    widget(at, "text_input", "Base URL").input("http://169.254.169.254/v1").run()
    assert at.session_state["config"] is None
    error = texts(at.error).replace("\\", "")  # the message is shown literally: its punctuation escaped
    assert "may not contact 169.254.169.254" in error and "RAGTUNE_ALLOWED_HOSTS" in error
