"""Picker defaults: training sets before evaluation sets, a dataset's own models before others."""

from ragtune_core.questions.pickers import for_evaluation_only, models_for_dataset, training_first
from ragtune_core.store.records import DatasetRecord, ModelRecord


def dataset(name, kind="qa", **params) -> DatasetRecord:
    return DatasetRecord(name, name, 0.0, kind, None, params, 10)


def model(name, dataset_id=None) -> ModelRecord:
    return ModelRecord(name, name, "embedding", 0.0, f"/models/{name}", "base", None, {}, dataset_id)


GENERATED = dataset("generated")
HAND_WRITTEN = dataset("hand-written", evaluation_only=True)
ROUTER = dataset("router", "router")
IMPORTED_ROUTER = dataset("imported-router", "router", imported="queries.json")
IMPORTED_QA = dataset("lyft", imported="lyft.json")  # a LlamaIndex training file: may be trained on
GENERATED_V2 = dataset("generated v2", version_of="generated", version=2)


def test_evaluation_sets_are_the_evidence_sets_and_imported_router_sets():
    assert [for_evaluation_only(d) for d in (GENERATED, HAND_WRITTEN, ROUTER, IMPORTED_ROUTER, IMPORTED_QA)] == [
        False,
        True,
        False,
        True,
        False,
    ]


def test_a_newer_evaluation_set_is_never_the_default_for_training():
    newest_first = [IMPORTED_ROUTER, HAND_WRITTEN, ROUTER, GENERATED]
    assert [d.id for d in training_first(newest_first)] == ["router", "generated", "imported-router", "hand-written"]


def test_a_dataset_gets_its_own_models_first_and_never_the_other_kinds():
    datasets = [GENERATED, GENERATED_V2, ROUTER]
    models = [
        model("router-minilm", "router"),
        model("from-cli"),
        model("qa-v2", "generated v2"),
        model("qa-v1", "generated"),
    ]
    assert [m.id for m in models_for_dataset(GENERATED, models, datasets)] == ["qa-v2", "qa-v1", "from-cli"]
    assert [m.id for m in models_for_dataset(GENERATED_V2, models, datasets)] == ["qa-v2", "qa-v1", "from-cli"]
    assert [m.id for m in models_for_dataset(ROUTER, models, datasets)] == ["router-minilm", "from-cli"]
