"""Finetuning: grounded question/answer data from the pages, LoRA training, closed-book eval."""
