"""The library: a `Page` (url, headers, bytes) in, an `Article` and its `Facts` out.

`extract.clean` decodes the page, reads its metadata and strips the page chrome;
`extract.nlp` runs the spaCy pipeline with our components and rules. No network, no
output files: fetching and writing belong to the application, `scraper`.
"""
