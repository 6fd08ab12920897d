"""Training data: generate stories with any model, check a dataset, prepare it for fine-tuning.

    storyteller data generate --model gpt-4o-mini --repeats 2 --out stories.csv
    storyteller data check stories.csv
    storyteller data prepare stories.csv --format chat --out prepared/

Files a user gives us are only ever read; every output goes to a new file.
"""
