"""Downloads of what the workspace holds: a model's folder as a zip."""

from functools import partial
from pathlib import Path

import streamlit as st

from app_pages.basics import literal
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.pickers import pick
from ragtune_core.store import ModelRecord, zip_model
from ragtune_core.store.files import own_files


def model_download(models: list[ModelRecord]) -> None:
    """A picker over `models` and a button that downloads the chosen one's folder as a zip; nothing
    when there are none."""
    model = pick("Download a model", models, key="download_model")
    if model is None:
        return
    with errors_shown(stop=False):  # a folder holding links is refused here, before its button is offered
        own_files(Path(model.path), f"the model folder of {model.name}")
        # A callable: the zip is built from disk when clicked, not on every run, and never kept in the session.
        st.download_button(
            f"Download {literal(model.name)}.zip",
            partial(zip_model, Path(model.path)),
            file_name=f"{Path(model.path).name}.zip",
            mime="application/zip",
            icon=":material/download:",
        )
