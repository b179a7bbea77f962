"""The generic profile: any site nobody has described. The cleaner's generic filter does
the work; article URLs are any path with at least one slug-like segment.

For a crawl, the site is the host of the URL given: a homepage is read as a listing (its
same-site article links, its `<link rel=alternate>` feeds), a feed or a sitemap as such,
and robots.txt may add sitemaps. Pagination follows `<link rel=next>` only.
"""

NAME = "generic"
ARTICLE_URL = r"/[\w%-]{8,}(?:\.html?)?/?$"
ROBOTS_SITEMAPS = True
FEED_AUTODISCOVERY = True
