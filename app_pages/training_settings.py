"""The Fine-tune page's settings: the models to start from, defaults that need no expert, and an
"Advanced settings" override whose inputs take their limits and help from the training config's field metadata."""

import streamlit as st

from app_pages.basics import workspace
from ragtune_core.store import DEFAULT_BASE_MODEL
from ragtune_core.training import CrossEncoderTrainConfig, EmbeddingTrainConfig, SearchSettings, limits

OTHER = "Other (Hub id or folder)…"


def model_choice(
    label: str,
    names: list[str],
    key: str,
    default: str = DEFAULT_BASE_MODEL,
    preferred: str | None = None,
    help: str | None = None,
) -> str | None:
    """A model picked from the default (shown as `default`), workspace models, or typed; None = the default.
    `preferred` (one of `names`) is chosen until the user picks another."""
    options = [default, *names, OTHER]
    choice = st.selectbox(
        label, options, index=options.index(preferred) if preferred in names else 0, key=key, help=help
    )
    if choice == OTHER:
        return st.text_input(
            f"{label}: Hub id (hf:owner/name) or local folder",
            key=f"{key}-other",
            placeholder="hf:BAAI/bge-small-en-v1.5",
            help="Hub models need internet access.",
        ).strip()
    if choice == default:
        return None
    return workspace().resolve("models", choice).path


def setting_input(
    column, config_class: type, name: str, label: str, default, key: str | None = None, share: bool = False
):
    """A number input with the setting's limits and help from the config's field metadata; a `share`
    (0 to 1) reads as 0.50, a rate as 1.0e-04."""
    low, high, help_text = limits(config_class, name)
    if isinstance(low, float) or isinstance(high, float):
        return column.number_input(
            label,
            float(low),
            float(high),
            float(default),
            help=help_text,
            format="%.2f" if share else "%.1e" if high < 1 else "%.1f",
            step=0.05 if share else None,
            key=key,
        )
    return column.number_input(label, low, high, default, help=help_text, key=key)


def training_settings(config_class: type, base: str | None, qa: bool = False, **models):
    """The config: every setting at its default unless changed under "Advanced settings". A QA
    embedding trains its question encoder alone, at its own learning rate (training.query_side)."""
    defaults, kind = config_class(), "qa" if qa else "router"
    query_side = qa and config_class is EmbeddingTrainConfig
    own = EmbeddingTrainConfig.QUERY_SIDE if query_side else {}
    batch, rate = own.get("batch_size", "batch_size"), own.get("learning_rate", "learning_rate")
    with st.expander("Advanced settings", icon=":material/tune:"):
        st.caption(
            "The defaults size the training from the data and keep the best validated model: "
            "change them only to experiment."
        )
        fixed_epochs = st.checkbox(
            f"Choose the number of epochs (default: auto, about {defaults.target_steps(kind)} optimizer steps)",
            key=f"{config_class.__name__}-fixed",
        )
        c1, c2, c3, c4 = st.columns(4)
        settings = {
            "epochs": setting_input(c1, config_class, "epochs", "Epochs", 10),
            batch: setting_input(c2, config_class, batch, "Batch size", getattr(defaults, batch)),
            rate: setting_input(c3, config_class, rate, "Learning rate", getattr(defaults, rate)),
            "patience": setting_input(c4, config_class, "patience", "Early-stopping patience", defaults.patience),
        }
        length = "max_length" if config_class is CrossEncoderTrainConfig else "max_seq_length"
        settings[length] = setting_input(c1, config_class, length, "Max length (tokens)", getattr(defaults, length))
        if query_side:
            settings["base_share"] = setting_input(
                c2, config_class, "base_share", "Base model's share", defaults.base_share, share=True
            )
            settings["name_swaps"] = setting_input(
                c3, config_class, "name_swaps", "Renamed copies", defaults.name_swaps
            )
        if config_class is CrossEncoderTrainConfig:
            settings["hard_negatives"] = setting_input(
                c2, config_class, "hard_negatives", "Hard negatives per question", defaults.hard_negatives
            )
            settings["name_swaps"] = setting_input(
                c3, config_class, "name_swaps", "Renamed copies (router)", defaults.name_swaps
            )
    if not fixed_epochs:
        settings["epochs"] = None
    return config_class(base_model=base, **settings, **models)


def search_settings(key: str) -> SearchSettings | None:
    """A hyperparameter search when asked for under "Hyperparameter search", else None."""
    defaults = SearchSettings()
    with st.expander("Hyperparameter search", icon=":material/science:"):
        wanted = st.checkbox(
            "Search the learning rate, epochs and warm-up (Optuna)",
            key=f"{key}-search",
            help="Several trainings, the first with the settings above; each later one tries "
            "settings near the best so far, and one trailing the others at the same point "
            "is stopped. The best is kept as the model.",
        )
        c1, c2 = st.columns(2)
        minutes = setting_input(
            c1, SearchSettings, "minutes", "Time budget (minutes)", defaults.minutes, key=f"{key}-minutes"
        )
        trials = setting_input(
            c2, SearchSettings, "max_trials", "Trainings at most", defaults.max_trials, key=f"{key}-trials"
        )
    return SearchSettings(minutes=minutes, max_trials=trials) if wanted else None
