"""Every st.session_state key the pages read or write, in one place.

Widget keys belong here when a page reads them back or sets them: CORPUS and DATASET are the keys
of the corpus and dataset pickers on several pages, so a choice made (or a record saved) on one
page is the one selected on the next.
"""

from enum import StrEnum


class State(StrEnum):
    CORPUS = "corpus_id"
    DATASET = "dataset_id"
    STAGED_DOCUMENTS = "staged_documents"  # Corpus page: documents loaded but not yet chunked
    ROUTED_QUERY = "routed"  # Playground: (dataset id, query, each selector's pick)
    TOOL_OUTPUT = "tool_output"  # Playground: (what the picked tool was run on, its output): shown again at once
    # the run this session started last, per page section: its job panel stays on screen
    GENERATION_RUN = "generation_run"
    TRAINING_RUN = "training_run"
    EVALUATION_RUN = "evaluation_run"
    SELECTOR_RUN = "selector_run"
    FETCH_RUN = "fetch_run"
    FETCH_STAGED = "fetch_staged"  # the fetch run whose documents this session has staged: staged once
