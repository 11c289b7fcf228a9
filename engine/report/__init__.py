"""Formatters: findings and verdicts as people and other programs read them."""
