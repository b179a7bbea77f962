"""electrive (electrive.com): WordPress, articles at /YYYY/MM/DD/slug/; the English
edition of a Berlin-based trade medium."""

NAME = "electrive"
SITE_NAME = "electrive.com"
DOMAINS = ("electrive.com",)
HOME = "https://www.electrive.com/"
FEEDS = ("https://www.electrive.com/feed/",)
LISTINGS = ("https://www.electrive.com/",)
PAGE_URL = "{listing}page/{n}/"
ROBOTS_SITEMAPS = True
ARTICLE_URL = r"^/20\d\d/\d\d/\d\d/[^/]+/?$"
TITLE = "h1.post-title"
# Each post ends with the domains it draws on ("stellantis.com, catl.com"): references,
# not story; and the in-text newsletter teaser.
PRUNE = (
    "div.post-sources",
    "aside.newsletter-inline",
)
# Central European Time (summer time is not modelled; stamps carry an offset anyway).
TIMEZONE_HOURS = 1
