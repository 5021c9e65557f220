"""Corpus: projects, people and roles, articles, comment reply trees, and imports."""
