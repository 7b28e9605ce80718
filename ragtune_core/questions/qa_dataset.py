"""Question/passage datasets in LlamaIndex's `EmbeddingQAFinetuneDataset` JSON format.

The file keeps the four LlamaIndex keys (`queries`, `corpus`, `relevant_docs`, `mode`) so it loads
in llama-index as is; RAGTune's own extras (which document a passage is from, the train/validation/test
split, a router dataset's tools) live under one extra `ragtune` key that LlamaIndex ignores.

Every dataset file is checked when it is read (the schema `dataset_file.DatasetFile`): at least
one question, questions and passages as non-empty text, known split parts and kinds, RAGTune's block
and a router dataset's tools of the right shape; the error names the file, the key and what was
expected, so no page or command meets a dataset it cannot use.

An evaluation-only dataset (a hand-written evidence-phrase set, questions/evidence.py) says so in
`extra["evaluation_only"]`: it is never split and never trained on (`refuse_evaluation_only`), and
its questions' styles (`extra["styles"]`) let reports break its metrics down per style.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import RagtuneError
from ..runs import JobState
from ..store.files import atomic_write_text, parse_json, refuse_links, unchanged_since, version_of
from ..store.shapes import parse
from ..store.workspace import DatasetRecord, Workspace, check_name, new_id
from .dataset_file import EVALUATION_ONLY, STYLES, DatasetFile

TRAIN, VAL, TEST = "train", "val", "test"
TEST_RATIO = 0.2  # the share of documents (or questions) a split holds out for reporting
SPLIT_MODES = ("document", "query")
SEPARATE_TEST_DOCUMENTS = 10  # below this, validation and test share the held-out documents (plan_split)
KINDS = ("qa", "router")


class DatasetError(RagtuneError):
    """A dataset file or edit that cannot be used; the message says what is wrong."""


@dataclass
class QADataset:
    queries: dict[str, str]  # query id -> question
    corpus: dict[str, str]  # passage (chunk or tool) id -> text
    relevant_docs: dict[str, list[str]]  # query id -> ids of the passages that answer it
    mode: str = "text"
    passage_docs: dict[str, str] = field(default_factory=dict)  # passage id -> document id
    split: dict[str, str] = field(default_factory=dict)  # query id -> "train" | "val" | "test"
    kind: str = "qa"  # "qa" or "router"
    extra: dict = field(default_factory=dict)  # e.g. router tools; kept verbatim
    # The file this dataset was loaded from and that file's version then: saving back over it is
    # refused if someone else replaced it meanwhile (their edits would be lost). Copies made with
    # dataclasses.replace keep them; neither takes part in equality.
    source: Path | None = field(default=None, compare=False, repr=False)
    version: str | None = field(default=None, compare=False, repr=False)

    def validate(self) -> None:
        """The parts agree: every query has passages in the corpus, every split entry is a query,
        and a router dataset's answers are its tools."""
        for qid, pids in self.relevant_docs.items():
            if qid not in self.queries:
                raise DatasetError(f"relevant_docs names query {qid!r}, which is not in queries")
            missing = [p for p in pids if p not in self.corpus]
            if missing:
                raise DatasetError(f"query {qid!r} points at passages not in corpus: {missing[:3]}")
        unlabelled = [q for q in self.queries if not self.relevant_docs.get(q)]
        if unlabelled:
            raise DatasetError(f"{len(unlabelled)} queries have no relevant passage, e.g. {unlabelled[0]!r}")
        strangers = [q for q in self.split if q not in self.queries]
        if strangers:
            raise DatasetError(f"ragtune.split names query {strangers[0]!r}, which is not in queries")
        if self.evaluation_only and self.split:
            raise DatasetError("an evaluation-only dataset has no train/validation split: it is evaluated whole")
        tool_ids = {tool["id"] for tool in self.extra.get("tools") or []}
        if tool_ids:
            answers = sorted({pids[0] for pids in self.relevant_docs.values()} - tool_ids)
            if answers:
                raise DatasetError(
                    f"ragtune.extra.tools: {answers[0]!r}, an answer of this router dataset, is no tool's id"
                )

    @property
    def evaluation_only(self) -> bool:
        """Whether this dataset is for evaluation only (never split, never trained on)."""
        return bool(self.extra.get(EVALUATION_ONLY))

    @property
    def styles(self) -> dict[str, str]:
        """{query id: style} of the queries that have one (an evidence set's); empty otherwise."""
        return dict(self.extra.get(STYLES) or {})

    def subset(self, part: str | None) -> QADataset:
        """The queries of one split part ("train"/"val"/"test"), with the whole corpus; None: everything."""
        if part is None:
            return self
        if not self.split:
            raise DatasetError("this dataset has no train/validation split yet")
        keep = [q for q in self.queries if self.split.get(q) == part]
        return QADataset(
            queries={q: self.queries[q] for q in keep},
            corpus=self.corpus,
            relevant_docs={q: self.relevant_docs[q] for q in keep},
            mode=self.mode,
            passage_docs=self.passage_docs,
            split={q: part for q in keep},
            kind=self.kind,
            extra=self.extra,
        )

    def sampled(self, part: str | None, limit: int) -> QADataset:
        """The dataset with at most `limit` of `part`'s questions (None: of all), spread evenly over it;
        the other questions kept: a quick look at a large part, or a validation run kept cheap."""
        ids = [q for q in self.queries if part is None or self.split.get(q) == part]
        if len(ids) <= limit:
            return self
        dropped = set(ids) - {ids[i * len(ids) // limit] for i in range(limit)}
        kept = [q for q in self.queries if q not in dropped]
        return replace(
            self,
            queries={q: self.queries[q] for q in kept},
            relevant_docs={q: self.relevant_docs[q] for q in kept},
            split={q: self.split[q] for q in kept if q in self.split},
        )

    def pairs(self) -> list[tuple[str, str]]:
        """(question, passage text) pairs, one per relevant passage."""
        return [(self.queries[q], self.corpus[p]) for q in self.queries for p in self.relevant_docs[q]]

    def to_json_dict(self, llama_index_only: bool = False) -> dict:
        data = {
            "queries": self.queries,
            "corpus": self.corpus,
            "relevant_docs": self.relevant_docs,
            "mode": self.mode,
        }
        if not llama_index_only:
            data["ragtune"] = {
                "kind": self.kind,
                "passage_docs": self.passage_docs,
                "split": self.split,
                "extra": self.extra,
            }
        return data

    @classmethod
    def from_json_dict(cls, data, file: str | None = None) -> QADataset:
        """A dataset from parsed JSON, checked; errors name `file` (when given), the key and what
        was expected."""
        content = parse(DatasetFile, data, file, DatasetError)
        meta = content.ragtune
        dataset = cls(
            queries=content.queries,
            corpus=content.corpus,
            relevant_docs=content.relevant_docs,
            mode=content.mode,
            passage_docs=meta.passage_docs if meta else {},
            split=meta.split if meta else {},
            kind=meta.kind if meta else "qa",
            extra=content.extra(),
        )
        try:
            dataset.validate()
        except DatasetError as exc:
            raise DatasetError(in_file(file, str(exc))) from None
        return dataset

    def save(self, path: Path, llama_index_only: bool = False) -> None:
        """Write atomically (a crash mid-write never leaves a half file in place of a good one). Saving
        over the file it was loaded from is refused (DatasetError) if that file changed since."""
        path = Path(path)
        if self.source is not None and path.resolve() == self.source.resolve():
            with unchanged_since(path, self.version, path.name, DatasetError):
                self._write(path, llama_index_only)
        else:
            self._write(path, llama_index_only)

    def _write(self, path: Path, llama_index_only: bool = False) -> None:
        text = json.dumps(self.to_json_dict(llama_index_only), ensure_ascii=False, indent=1)
        atomic_write_text(path, text)
        if not llama_index_only:
            self.source, self.version = path, version_of(text)

    @classmethod
    def load(cls, path: Path) -> QADataset:
        """The dataset in `path`, with the version it was read at; DatasetError naming the file when
        it is not a usable dataset."""
        path = Path(path)
        raw = path.read_bytes()
        dataset = cls.from_json_dict(parse_json(raw, path.name, error=DatasetError), path.name)
        dataset.source, dataset.version = path, version_of(raw)
        return dataset


def in_file(file: str | None, message: str) -> str:
    """The message, after the name of the file it is about when there is one."""
    return f"{file}: {message}" if file else message


@dataclass(frozen=True)
class Split:
    """A split of a dataset's questions, how it was made and, when not as asked, why."""

    parts: dict[str, str]  # query id -> "train" | "val" | "test"
    by: str  # "document" or "query"
    note: str | None = None


def plan_split(
    dataset: QADataset, val_ratio: float = 0.2, by: str = "document", seed: int = 42, test_ratio: float = TEST_RATIO
) -> Split:
    """Assign each query to train, val or (with `test_ratio` above 0) test.

    Validation picks the checkpoint kept and a reranker's blend; test chooses nothing, so its figure is
    the one to report. by="document": whole documents are held out, so none of their passages is ever
    trained on. From SEPARATE_TEST_DOCUMENTS documents on, validation and test get documents of their own;
    with fewer, they share the documents a two-part split holds out, their questions divided between them,
    so a test part takes no document away from training (a small corpus has few to spare). With one
    document, it splits by query and says so in the note. by="query": queries are shuffled and cut,
    passages may be shared. Either way a two-part split with the same seed trains on the same documents.
    """
    _check_split_settings(dataset, val_ratio, by, test_ratio)
    rng = random.Random(seed)
    if by == "document":
        doc_of = {q: document_of(dataset, q) for q in dataset.queries}
        documents = set(doc_of.values())
        if len(documents) >= SEPARATE_TEST_DOCUMENTS or (len(documents) >= 2 and not test_ratio):
            part_of = _cut(documents, val_ratio, test_ratio, rng)
            return Split({q: part_of[doc_of[q]] for q in dataset.queries}, by)
        if len(documents) >= 2:
            return _shared_held_out_documents(dataset, doc_of, val_ratio, test_ratio, rng)
        note = (
            "the questions come from one document, and a split by document needs two, so they were split by "
            "question instead of by document: held-out questions ask about the same document as training ones"
        )
        return Split(_by_query(dataset, val_ratio, test_ratio, rng), "query", note)
    return Split(_by_query(dataset, val_ratio, test_ratio, rng), by)


def _by_query(dataset: QADataset, val_ratio: float, test_ratio: float, rng: random.Random) -> dict[str, str]:
    part_of = _cut(set(dataset.queries), val_ratio, test_ratio, rng)
    return {q: part_of[q] for q in dataset.queries}


def _check_split_settings(dataset: QADataset, val_ratio: float, by: str, test_ratio: float) -> None:
    if dataset.evaluation_only:
        raise DatasetError(
            "an evaluation-only dataset is never split: it is evaluated whole (part 'all') and never trained on"
        )
    if not 0 < val_ratio < 1:
        raise DatasetError("the validation ratio must be between 0 and 1")
    if not 0 <= test_ratio < 1 or val_ratio + test_ratio >= 1:
        raise DatasetError("the test ratio must be at least 0 and leave a train part beside validation")
    if by not in SPLIT_MODES:
        raise DatasetError(f"split by must be one of {SPLIT_MODES}, not {by!r}")


def _shared_held_out_documents(
    dataset: QADataset, doc_of: dict[str, str], val_ratio: float, test_ratio: float, rng: random.Random
) -> Split:
    """The documents a two-part split holds out, their questions divided between validation and test."""
    documents = set(doc_of.values())
    held_out = {d for d, part in _cut(documents, val_ratio, 0, rng).items() if part == VAL}
    order = sorted(q for q in dataset.queries if doc_of[q] in held_out)
    rng.shuffle(order)
    n_test = min(max(1, round(len(order) * test_ratio / (val_ratio + test_ratio))), len(order) - 1)
    parts = dict.fromkeys(dataset.queries, TRAIN) | dict.fromkeys(order, VAL) | dict.fromkeys(order[:n_test], TEST)
    note = (
        f"with {len(documents)} documents, fewer than {SEPARATE_TEST_DOCUMENTS}, validation and test share the "
        f"{len(held_out)} document(s) held out from training, their questions divided between them"
    )
    return Split(parts, "document", note)


def split_dataset(
    dataset: QADataset, val_ratio: float = 0.2, by: str = "document", seed: int = 42, test_ratio: float = TEST_RATIO
) -> dict[str, str]:
    """The parts of `plan_split`: query id -> train, val or test."""
    return plan_split(dataset, val_ratio, by, seed, test_ratio).parts


def _cut(items: set[str], val_ratio: float, test_ratio: float, rng: random.Random) -> dict[str, str]:
    """Each item's part: shuffled, then the first for validation, the next for test, the rest for train.
    Each part keeps at least one item where there are enough: train and validation from two, test from three."""
    order = sorted(items)
    rng.shuffle(order)
    n_test = min(max(1, round(len(order) * test_ratio)), max(0, len(order) - 2)) if test_ratio else 0
    n_val = min(max(1, round(len(order) * val_ratio)), max(1, len(order) - 1 - n_test))
    return {item: VAL if i < n_val else TEST if i < n_val + n_test else TRAIN for i, item in enumerate(order)}


def reported_part(dataset: QADataset) -> tuple[str, str | None]:
    """The part whose figures to report, and its `part_caveat`: test where there is one; else validation;
    "all" for an unsplit dataset."""
    part = "all" if not dataset.split else TEST if TEST in dataset.split.values() else VAL
    return part, part_caveat(dataset, part)


def part_caveat(dataset: QADataset, part: str) -> str | None:
    """Why figures measured on `part` are not the ones to report, when they are not: validation chose
    each fine-tuned model's kept checkpoint (and a reranker's blend weight)."""
    if part != VAL:
        return None
    chose = "the validation part chose each fine-tuned model's kept checkpoint, so its figures run a little high"
    if TEST in dataset.split.values():
        return f"{chose}; report the test part's, which chose nothing"
    return f"this dataset has no test part: {chose}; re-split it to hold out a test part"


def document_of(dataset: QADataset, qid: str) -> str:
    """The document of the query's first expected passage; the passage itself when it has none (an app's own tool)."""
    passage = dataset.relevant_docs[qid][0]
    return dataset.passage_docs.get(passage, passage)


def refuse_evaluation_only(dataset: QADataset, name: str) -> None:
    """DatasetError when `dataset` (called `name`) is evaluation-only: training must never see it."""
    if dataset.evaluation_only:
        raise DatasetError(
            f"dataset {name!r} is an evaluation-only set (hand-written questions scored by evidence "
            "phrases): it is never trained on; train on a generated dataset and evaluate on this one"
        )


def save_dataset(ws: Workspace, name: str, dataset: QADataset, corpus_id: str | None, params: dict) -> DatasetRecord:
    """Save a validated dataset under a new name (refused when the name is taken)."""
    dataset.validate()
    record = DatasetRecord(
        new_id("dataset"), check_name(name), time.time(), dataset.kind, corpus_id, params, len(dataset.queries)
    )
    ws.add("datasets", record, lambda folder: dataset.save(folder / "dataset.json"))
    return record


def update_dataset(ws: Workspace, dataset_id: str, dataset: QADataset, params: dict | None = None) -> DatasetRecord:
    """Replace a dataset's content (after an edit or a new split), merging `params` into its
    parameters; validated before anything is written. A dataset loaded from this workspace
    (`load_dataset`) replaces only the version it was loaded at: when another tab or command saved
    it meanwhile, DatasetError says so and nothing is written (file and catalogue row change together)."""
    dataset.validate()
    record = ws.get_dataset(dataset_id)
    _refuse_changing_under_users(ws, record)
    path = ws.dataset_path(dataset_id)
    version = dataset.version if dataset.source is not None and dataset.source.resolve() == path.resolve() else None
    with unchanged_since(path, version, f"dataset {record.name!r}", DatasetError):
        dataset._write(path)
        return ws.update_dataset_record(dataset_id, len(dataset.queries), params)


def _refuse_changing_under_users(ws: Workspace, record: DatasetRecord) -> None:
    """A dataset a model was trained on (or a job is using) is never changed: its edit is a new version."""
    users = [f"model {m.name!r}" for m in ws.list_models() if m.dataset_id == record.id]
    users += [
        f"job {r.name!r}"
        for r in ws.list_runs()
        if r.dataset_id == record.id and r.state in (JobState.QUEUED, JobState.RUNNING)
    ]
    if users:
        raise DatasetError(
            f"dataset {record.name!r} is used by {', '.join(users)}: it is never changed under them; "
            "save the change as a new version instead"
        )


def load_dataset(ws: Workspace, dataset_id: str) -> QADataset:
    record = ws.get_dataset(dataset_id)  # an unknown id is named as such
    refuse_links(ws.dataset_path(dataset_id), f"dataset {record.name!r}", DatasetError)
    return QADataset.load(ws.dataset_path(dataset_id))
