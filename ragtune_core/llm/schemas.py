"""The shapes LLM endpoints answer in, one schema each, checked at the door (network.read_answer):
chat completions, the files and Batch APIs, and the fine-tuning jobs of OpenAI-shaped endpoints,
Together and Fireworks. Only the fields RAGTune reads are declared; an answer lacking one, or holding
it in another type, is one error naming the endpoint and the field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeInt

from ..network import Answer


# chat completions ----------------------------------------------------------------------------------
class ToolFunction(Answer):
    name: str | None = None
    arguments: Any = None  # JSON text, as OpenAI sends it (some servers send the object): kept as sent


class ToolCall(Answer):
    function: ToolFunction | None = None


class ChatMessage(Answer):
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(Answer):
    message: ChatMessage


class TokenUsage(Answer):
    prompt_tokens: NonNegativeInt | None = None
    completion_tokens: NonNegativeInt | None = None


class ChatAnswer(Answer):
    choices: list[ChatChoice] = Field(min_length=1)
    usage: TokenUsage | None = None


# files and batches (OpenAI's Batch API) --------------------------------------------------------------
BATCH_STATUSES = (
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
)


class FileAnswer(Answer):
    id: str


class RequestCounts(Answer):
    total: NonNegativeInt = 0
    completed: NonNegativeInt = 0
    failed: NonNegativeInt = 0


class BatchFailure(Answer):
    code: str | None = None
    message: str | None = None


class BatchFailures(Answer):
    data: list[BatchFailure] = []


class BatchAnswer(Answer):
    id: str
    status: Literal[BATCH_STATUSES]
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: RequestCounts | None = None
    errors: BatchFailures | None = None


class BatchList(Answer):
    data: list[BatchAnswer]


class LineResponse(Answer):
    status_code: int | None = None
    body: Any = None


class BatchLine(Answer):
    """One line of a batch's output or error file."""

    custom_id: str | None = None
    response: LineResponse | None = None
    error: BatchFailure | None = None


# fine-tuning jobs: OpenAI-shaped --------------------------------------------------------------------
class JobFailure(Answer):
    message: str | None = None


class FineTuningJob(Answer):
    id: str
    status: Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
    model: str
    fine_tuned_model: str | None = None
    error: JobFailure | None = None
    trained_tokens: NonNegativeInt | None = None
    created_at: float


class FineTuningJobs(Answer):
    data: list[FineTuningJob]


class FineTuningEvent(Answer):
    id: str
    created_at: float
    message: str
    type: str | None = None
    level: str = "info"
    data: Any = None


class FineTuningEvents(Answer):
    data: list[FineTuningEvent]


class FineTuningCheckpoint(Answer):
    id: str
    step_number: int
    fine_tuned_model_checkpoint: str
    metrics: dict[str, Any] = {}


class FineTuningCheckpoints(Answer):
    data: list[FineTuningCheckpoint]


# fine-tuning jobs: Together ---------------------------------------------------------------------------
class TogetherEvent(Answer):
    message: str | None = None
    level: str | None = None
    created_at: str | float | None = None


class TogetherJob(Answer):
    id: str
    status: str
    model: str | None = None
    output_name: str | None = None
    model_output_name: str | None = None
    token_count: NonNegativeInt | None = None
    created_at: str | float | None = None
    events: list[TogetherEvent] | None = None


class TogetherJobs(Answer):
    data: list[TogetherJob] = []


class TogetherEvents(Answer):
    data: list[TogetherEvent] = []


class TogetherCheckpoint(Answer):
    name: str | None = None
    path: str | None = None
    step: int | None = None


class TogetherCheckpoints(Answer):
    data: list[TogetherCheckpoint] = []


# fine-tuning jobs: Fireworks -------------------------------------------------------------------------
class FireworksStatus(Answer):
    message: str | None = None


class FireworksJob(Answer):
    name: str
    state: str = "JOB_STATE_UNSPECIFIED"
    baseModel: str | None = None
    outputModel: str | None = None
    dataset: str | None = None
    status: FireworksStatus | None = None
    createTime: str | float | None = None
    updateTime: str | float | None = None
    completedTime: str | float | None = None


class FireworksJobs(Answer):
    supervisedFineTuningJobs: list[FireworksJob] = []


class FireworksDataset(Answer):
    state: str | None = None
