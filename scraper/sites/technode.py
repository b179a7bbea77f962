"""TechNode (technode.com): WordPress, articles at /YYYY/MM/DD/slug/. A China tech site;
its EV and auto stories are collected under the electric-vehicles tag."""

NAME = "technode"
SITE_NAME = "TechNode"
DOMAINS = ("technode.com",)
HOME = "https://technode.com/"
# The tag's own feed: EV stories only, not the whole site's.
FEEDS = ("https://technode.com/tag/electric-vehicles/feed/",)
LISTINGS = ("https://technode.com/tag/electric-vehicles/",)
PAGE_URL = "{listing}page/{n}/"
# Not the sitemaps of robots.txt: they hold every topic, and this profile is for the
# EV pages.
ROBOTS_SITEMAPS = False
ARTICLE_URL = r"^/20\d\d/\d\d/\d\d/[^/]+/?$"
TITLE = "h1.entry-title"
# Inside div.entry-content: "Related:" link lines and the newsletter sign-up.
PRUNE = (
    "p.related-inline",
    "div.tn-newsletter",
)
TIMEZONE_HOURS = 8
