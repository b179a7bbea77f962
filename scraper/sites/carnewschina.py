"""CarNewsChina (carnewschina.com): WordPress (tagDiv Newspaper theme), articles at
/YYYY/MM/DD/slug/."""

NAME = "carnewschina"
SITE_NAME = "CarNewsChina"
DOMAINS = ("carnewschina.com",)
HOME = "https://carnewschina.com/"
# RSS 2.0 of the newest posts, pubDate in UTC.
FEEDS = ("https://carnewschina.com/feed/",)
# The homepage paginates as /page/N/, and so do category archives (/category/ev/).
LISTINGS = ("https://carnewschina.com/",)
PAGE_URL = "{listing}page/{n}/"
ROBOTS_SITEMAPS = True
ARTICLE_URL = r"^/20\d\d/\d\d/\d\d/[^/]+/?$"
TITLE = "h1.tdb-title-text"
# Inside the post's content block: inline ad slots between paragraphs and the "Related
# Posts" cards the theme inserts before the closing "Editor's comment" (which is story).
PRUNE = (
    "div.td-a-rec",
    "div.td_block_related_posts",
)
# The theme prints Beijing time; its meta stamps carry an offset.
TIMEZONE_HOURS = 8
