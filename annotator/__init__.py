"""Comment annotator: label reader comments on news articles, stored as reply trees."""
