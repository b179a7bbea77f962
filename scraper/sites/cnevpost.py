"""CnEVPost (cnevpost.com): WordPress, articles at /YYYY/MM/DD/slug/."""

NAME = "cnevpost"
SITE_NAME = "CnEVPost"
DOMAINS = ("cnevpost.com",)
FEEDS = ("https://cnevpost.com/feed/",)
ARTICLE_URL = r"^/20\d\d/\d\d/\d\d/[^/]+/?$"
TITLE = "h1.entry-title"
# Inside div.entry-content: a related-article promo and a "Join us on Telegram" box.
PRUNE = (
    "div.danpian-xiangguan-post",
    "div.subscription-container",
)
# article:published_time is UTC; the visible <time> is Beijing time.
TIMEZONE_HOURS = 8
