"""RAGTune core: a pure Python library (no Streamlit) behind the app, the CLI and the tests."""

__version__ = "0.1.0"
