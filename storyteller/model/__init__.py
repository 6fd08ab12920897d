"""The embedded storyteller model: prompt/slot format, tokenizer, training, evaluation."""
