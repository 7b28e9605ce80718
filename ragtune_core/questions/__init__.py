"""Stage 2, questions: synthetic question/passage datasets (offline or LLM), curation and splits."""

from .qa_dataset import (
    QADataset,
    DatasetError,
    TRAIN,
    VAL,
    SPLIT_MODES,
    EVALUATION_ONLY,
    split_dataset,
    save_dataset,
    update_dataset,
    load_dataset,
    refuse_evaluation_only,
)
from .evidence import (EvidenceError, EvidenceMatch, EvidenceSet, import_evidence_set, is_evidence_file,
                       match_evidence, parse_evidence_set, read_evidence_file)
from .generators import DEFAULT_QUESTIONS_PER_CHUNK, GENERATORS, MAX_QUESTIONS_PER_CHUNK, GenerationError, GenerationResult, QuestionGenerator
from .offline import OfflineQuestionGenerator
from .llm_generator import LLMQuestionGenerator, estimate_llm_usage
from .prompts import DEFAULT_QA_PROMPT
from .generation import GenerationRequest, generate_questions, estimate_llm_run, select_chunks, build_dataset
from .curation import (
    apply_table,
    coverage,
    drop_duplicates,
    find_duplicates,
    questions_table,
    draft_path,
    load_draft,
    save_draft,
    accept_draft,
)

__all__ = [
    "QADataset",
    "DatasetError",
    "TRAIN",
    "VAL",
    "SPLIT_MODES",
    "EVALUATION_ONLY",
    "split_dataset",
    "save_dataset",
    "update_dataset",
    "load_dataset",
    "refuse_evaluation_only",
    "EvidenceError",
    "EvidenceMatch",
    "EvidenceSet",
    "import_evidence_set",
    "is_evidence_file",
    "match_evidence",
    "parse_evidence_set",
    "read_evidence_file",
    "GENERATORS",
    "DEFAULT_QUESTIONS_PER_CHUNK",
    "MAX_QUESTIONS_PER_CHUNK",
    "GenerationError",
    "GenerationResult",
    "QuestionGenerator",
    "OfflineQuestionGenerator",
    "LLMQuestionGenerator",
    "estimate_llm_usage",
    "DEFAULT_QA_PROMPT",
    "GenerationRequest",
    "estimate_llm_run",
    "generate_questions",
    "select_chunks",
    "build_dataset",
    "apply_table",
    "coverage",
    "drop_duplicates",
    "find_duplicates",
    "questions_table",
    "draft_path",
    "load_draft",
    "save_draft",
    "accept_draft",
]
