"""CnEVPost (cnevpost.com): WordPress, articles at /YYYY/MM/DD/slug/."""

NAME = "cnevpost"
SITE_NAME = "CnEVPost"
DOMAINS = ("cnevpost.com",)
HOME = "https://cnevpost.com/"
# RSS 2.0, about 50 newest items, pubDate in UTC; descriptions are teasers only.
FEEDS = ("https://cnevpost.com/feed/",)
# Homepage pages /page/N/; tag archives (/tag/<slug>/) paginate the same way and can be
# crawled by giving their URL: `python -m scraper crawl https://cnevpost.com/tag/nio/`.
LISTINGS = ("https://cnevpost.com/",)
PAGE_URL = "{listing}page/{n}/"
# Sitemaps come from robots.txt when it lists any.
ROBOTS_SITEMAPS = True
ARTICLE_URL = r"^/20\d\d/\d\d/\d\d/[^/]+/?$"
TITLE = "h1.entry-title"
# Inside div.entry-content: a related-article promo and a "Join us on Telegram" box.
PRUNE = (
    "div.danpian-xiangguan-post",
    "div.subscription-container",
)
# article:published_time is UTC; the visible <time> is Beijing time.
TIMEZONE_HOURS = 8
