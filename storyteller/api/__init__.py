"""An OpenAI-compatible API over the project's own models and trainer: `app.create_app()`.

Routes under /v1 follow OpenAI's spec (models, chat/completions, completions, files,
fine_tuning/jobs, moderations) with its error object; `storyteller serve` mounts the studio beside
them. This room imports the core (engines, finetune, data, safety); nothing in the core imports it.
"""
