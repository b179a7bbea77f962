"""The generic boilerplate filter, both ways: chrome goes, the story (even a sentence that
says "read more" or "share" in prose) stays."""

from __future__ import annotations

from lxml import html as lxml_html

from extract.clean import boilerplate

STORY = (
    "<p>Nio has agreed to buy the two Hefei plants that JAC has run for it since 2018, "
    "the company said in a filing on Wednesday, ending an arrangement that began when the "
    "start-up had no licence of its own.</p>"
    "<p>The plants can build about 240,000 cars a year between them, and Nio said the "
    "purchase would let it apply to produce vehicles under its own name for the first "
    "time.</p>"
    "<p>Analysts said the move was expected, since the carmaker has been preparing to take "
    "over the lines for more than a year and already employs most of the engineers.</p>"
)


def pruned(body: str) -> str:
    """The visible text of a page after the generic filter, whitespace squashed."""
    tree = lxml_html.document_fromstring(f"<html><body>{body}</body></html>")
    boilerplate.prune(tree)
    return " ".join(tree.text_content().split())


def test_teaser_cards_with_read_more_go_and_the_story_stays() -> None:
    cards = "".join(
        f'<div class="item"><h3>{title}</h3><p>{excerpt}...</p>'
        f'<a href="/{n}">Read More</a></div>'
        for n, (title, excerpt) in enumerate([
            ("OPPO lands a new foldable", "The clamshell comes with a telephoto lens"),
            ("Spotify tests lossless audio", "Subscribers have waited years for it"),
        ]))
    text = pruned(f'<article><div class="body">{STORY}{cards}</div></article>')
    assert "Nio has agreed to buy the two Hefei plants" in text
    assert "OPPO lands a new foldable" not in text
    assert "Spotify tests lossless audio" not in text
    assert "Read More" not in text


def test_compare_widget_goes() -> None:
    widget = ('<div class="compare-tray"><h4>Your compare list</h4><ul><li>Nio ET5</li>'
              '<li>XPeng P7</li></ul><button>Compare</button><a href="#">Clear list</a></div>')
    text = pruned(f"<article>{STORY}{widget}</article>")
    assert "Your compare list" not in text and "XPeng P7" not in text
    assert "240,000 cars a year" in text


def test_newsletter_box_found_by_its_email_field() -> None:
    box = ('<div class="box-x1"><h3>The Daily Charge</h3><p>Five stories every morning.</p>'
           '<form action="/join"><input type="email" name="e"><button>Go</button></form></div>')
    text = pruned(f"<article>{STORY}{box}</article>")
    assert "The Daily Charge" not in text and "Five stories every morning" not in text
    assert "Analysts said the move was expected" in text


def test_share_bar_and_most_read_go() -> None:
    share = ('<div class="social-share"><span>Share this article</span>'
             '<a href="#">Facebook</a><a href="#">LinkedIn</a></div>')
    most_read = ('<section class="box"><h2>Most read</h2><ol>'
                 '<li><a href="/a">Storm leaves thousands without power</a></li>'
                 '<li><a href="/b">Toyota recalls a million cars</a></li></ol></section>')
    text = pruned(f"<article>{share}{STORY}</article>{most_read}")
    assert "Share this article" not in text and "LinkedIn" not in text
    assert "Most read" not in text and "Storm leaves thousands" not in text
    assert "Nio has agreed to buy" in text


def test_comments_go_even_when_long() -> None:
    comments = '<div id="comments" class="comments-area">' + "".join(
        f"<p>Comment {n}: I have driven one of these cars for two years and the build "
        "quality from the contract factory has always been better than people expect.</p>"
        for n in range(5)) + "</div>"
    text = pruned(f"<article>{STORY}</article>{comments}")
    assert "Comment 3" not in text
    assert "Nio has agreed to buy" in text


def test_story_sentences_that_say_read_more_or_share_are_kept() -> None:
    prose = ("<p>Share prices of both carmakers rose after the announcement, and investors "
             "who read more into the filing expect a second deal for the Xinqiao plant.</p>"
             "<p>Read more carefully, the contract also lets JAC keep building cars for other "
             "clients until 2026, according to people familiar with it.</p>"
             '<p>Subscribe to the idea of a licence market and the deal makes sense, a banker '
             'said.</p>')
    text = pruned(f'<div class="share-of-voice content">{STORY}{prose}</div>')
    assert "Share prices of both carmakers rose" in text
    assert "Read more carefully, the contract also lets JAC" in text
    assert "Subscribe to the idea of a licence market" in text
    assert "Nio has agreed to buy" in text


def test_a_container_named_like_a_widget_but_holding_the_story_is_kept() -> None:
    # "sidebar" and "pagination" in the class of the story's own box.
    text = pruned(f'<div class="content-with-sidebar"><div class="article-body pagination-first">'
                  f"{STORY}</div></div>")
    assert "Nio has agreed to buy" in text and "240,000 cars a year" in text


def test_embedded_post_in_a_social_box_is_kept() -> None:
    embed = ('<div class="social-media-embed"><blockquote>Nio confirmed to us that the '
             "engineers at both Hefei plants will keep their jobs after the purchase closes, "
             "and that the lines will not stop for the handover.</blockquote></div>")
    text = pruned(f"<article>{STORY}{embed}</article>")
    assert "engineers at both Hefei plants will keep their jobs" in text


def test_layout_table_becomes_blocks_and_data_table_stays() -> None:
    tree = lxml_html.document_fromstring(
        "<html><body><table><tr><td><table><tr><td>nav</td></tr></table></td>"
        f"<td>{STORY}</td></tr></table>"
        "<table><tr><td>Plant</td><td>Cars a year</td></tr></table></body></html>")
    boilerplate.prune(tree)
    assert len(tree.findall(".//table")) == 2  # the nested nav table and the data table
    assert tree.xpath("//table[.//td[text()='Cars a year']]")


def test_chrome_lines_go_and_story_lines_stay() -> None:
    lines = ["Nio to buy JAC plants", "By Hannah Li", "Nio has agreed to buy the plants.",
             "Read more: Nio's delivery record in July", "Photo: Nio press image",
             "Share this story", "By 2026 the plants will build only Nio cars.",
             "Sign up for our newsletter to get the news in your inbox.",
             "Sourced from CnEVPost.", "Tags: Nio, JAC"]
    kept, credit = boilerplate.clean_lines(lines, title="Nio to buy JAC plants")
    assert kept == ["Nio has agreed to buy the plants.",
                    "By 2026 the plants will build only Nio cars."]
    assert credit == "CnEVPost"


def test_feed_footer_credit_is_read_from_the_page() -> None:
    tree = lxml_html.document_fromstring(
        f'<html><body>{STORY}<p>The post <a href="/x">Nio buys plants</a> appeared first on '
        '<a href="/">EV Wire Daily</a>.</p></body></html>')
    assert boilerplate.credit_in_page(tree) == "EV Wire Daily"
