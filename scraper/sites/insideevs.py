"""InsideEVs (insideevs.com): the Motorsport Network's CMS, articles at
/news/<numeric id>/<slug>/ (also /features/ and /reviews/)."""

NAME = "insideevs"
SITE_NAME = "InsideEVs"
DOMAINS = ("insideevs.com",)
HOME = "https://insideevs.com/"
# RSS 2.0 of all articles; /rss/news/all/ holds the news section only.
FEEDS = ("https://insideevs.com/rss/articles/all/",)
# The news section; its pages are followed by <link rel=next>, however they are spelled.
LISTINGS = ("https://insideevs.com/news/",)
ROBOTS_SITEMAPS = True
ARTICLE_URL = r"^/(?:news|features|reviews)/\d{5,}/[^/]+/?$"
TITLE = "h1.m1-article-title"
# Inside the article body: the inline "related" cards and the tip-line box.
PRUNE = (
    "div.m1-related-inline",
    "div.m1-tipline",
)
# US Eastern time (summer time is not modelled; stamps carry an offset anyway).
TIMEZONE_HOURS = -5
