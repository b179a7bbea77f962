"""Electrek (electrek.co): WordPress VIP (the 9to5 network's theme), articles at
/YYYY/MM/DD/slug/."""

NAME = "electrek"
SITE_NAME = "Electrek"
DOMAINS = ("electrek.co",)
HOME = "https://electrek.co/"
FEEDS = ("https://electrek.co/feed/",)
LISTINGS = ("https://electrek.co/",)
PAGE_URL = "{listing}page/{n}/"
ROBOTS_SITEMAPS = True
ARTICLE_URL = r"^/20\d\d/\d\d/\d\d/[^/]+/?$"
TITLE = "h1.h1"
# Inside the post content: the affiliate-link disclosure ("FTC: ..."), the Google News
# prompt and the "Top comment" box.
PRUNE = (
    "p.ftc-disclosure",
    "div.google-news-link",
    "div.top-comment",
)
# The theme prints US Pacific time ("2:32 pm PT"); summer time is not modelled, and the
# meta stamps carry their offset anyway.
TIMEZONE_HOURS = -8
