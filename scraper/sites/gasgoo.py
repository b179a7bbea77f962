"""Gasgoo English autonews (autonews.gasgoo.com): a Next.js site, articles at
/articles/<section>/<slug>-<id>; older pages at /<section>/<8-digit id>.html."""

NAME = "gasgoo"
SITE_NAME = "Gasgoo"
DOMAINS = ("autonews.gasgoo.com",)
HOME = "https://autonews.gasgoo.com/"
# Category feeds listed on /rss (about 20 items each, pubDate in GMT); the same story
# may appear in several: ClassId 7 is EV, 2 Market & Industry.
FEEDS = (
    "https://autonews.gasgoo.com/api/rss?ClassId=7",
    "https://autonews.gasgoo.com/api/rss?ClassId=2",
)
# The EV section; its pages are followed by <link rel=next>.
LISTINGS = ("https://autonews.gasgoo.com/articles/ev",)
ROBOTS_SITEMAPS = True
ARTICLE_URL = r"^/(?:articles/[a-z-]+/(?:[\w-]+-)?\d{8,}|[a-z_]+/\d{8}\.html)/?$"
TITLE = "h1.article-title"
# Inside the <article>: the breadcrumb ("Home / EV / ...") above the body, and the
# "Related news" strip below it.
PRUNE = (
    "nav.article-breadcrumb",
    "section.article-related",
)
# article:published_time is written without an offset, in UTC (it matches the feeds'
# GMT pubDate), not in Beijing time.
TIMEZONE_HOURS = 0
