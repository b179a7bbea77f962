"""The generic profile: any site nobody has described. The cleaner's generic filter does
the work; article URLs are any path with at least one slug-like segment."""

NAME = "generic"
ARTICLE_URL = r"/[\w%-]{8,}(?:\.html?)?/?$"
