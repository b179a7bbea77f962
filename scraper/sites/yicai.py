"""Yicai Global (yicaiglobal.com): the English service of the Shanghai business daily
Yicai; articles at /news/<slug>, without a date in the path."""

NAME = "yicai"
SITE_NAME = "Yicai Global"
DOMAINS = ("yicaiglobal.com",)
HOME = "https://www.yicaiglobal.com/"
FEEDS = ("https://www.yicaiglobal.com/rss/news",)
# The news list, newest first; its pages are followed by <link rel=next>.
LISTINGS = ("https://www.yicaiglobal.com/news",)
ROBOTS_SITEMAPS = True
ARTICLE_URL = r"^/news/[a-z0-9]+(?:-[a-z0-9]+)+/?$"
TITLE = "h1.news-title"
# The closing "Editor: ..." line of every story and the keyword strip.
PRUNE = (
    "p.news-editor",
    "div.news-keywords",
)
TIMEZONE_HOURS = 8
