"""Widgets the pages share, one concern a module: `errors` (errors_shown), `job_panel` (a run's live panel),
`charts` (every chart, its text escaped), `pickers` (workspace records, models, selectors), `llm_settings` and
`llm_prices` (an OpenAI-compatible endpoint and its prices), `question_generator` (both Questions forms),
`downloads` (a model as a zip) and `sidebar` (the workspace and its running jobs)."""
