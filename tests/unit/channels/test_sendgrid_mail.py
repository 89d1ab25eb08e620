import pytest

from nudgeflow.channels.base import OutboundMessage
from nudgeflow.channels.sendgrid_mail import MAX_CATEGORIES, build_mail, html_body
from nudgeflow.channels.standins.sendgrid_server import validate_mail


def _message(**overrides) -> OutboundMessage:
    fields = dict(
        delivery_id="d-1",
        channel="email",
        user_id="u-1",
        kind="nudge",
        title="Next: invite a teammate",
        body="Teams <3 dashboards & more.",
        to_email="ada@example.com",
        custom_args={"playbook_id": "activation"},
        categories=["nudgeflow", "nudge"],
    )
    fields.update(overrides)
    return OutboundMessage(**fields)


def test_plain_and_html_parts_in_the_order_sendgrid_requires():
    mail = build_mail(_message(), from_email="hi@nudgeflow.dev", from_name="Nudgeflow")
    assert mail["from"] == {"email": "hi@nudgeflow.dev", "name": "Nudgeflow"}
    assert mail["subject"] == "Next: invite a teammate"
    assert [c["type"] for c in mail["content"]] == ["text/plain", "text/html"]
    assert "Teams &lt;3 dashboards &amp; more." in mail["content"][1]["value"]
    assert validate_mail(mail) == []


def test_custom_args_carry_delivery_and_user_ids_as_strings():
    mail = build_mail(_message(), from_email="hi@nudgeflow.dev")
    assert mail["custom_args"] == {"playbook_id": "activation", "delivery_id": "d-1", "user_id": "u-1", "kind": "nudge"}
    assert sorted(mail["categories"]) == ["nudge", "nudgeflow"]


def test_unsubscribe_header_and_links():
    mail = build_mail(_message(unsubscribe_url="https://app/unsub?t=1"), from_email="hi@nudgeflow.dev")
    assert mail["headers"]["List-Unsubscribe"] == "<https://app/unsub?t=1>"
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["content"][0]["value"].endswith("Unsubscribe: https://app/unsub?t=1")
    assert 'href="https://app/unsub?t=1"' in mail["content"][1]["value"]


def test_one_click_can_be_switched_off():
    mail = build_mail(_message(unsubscribe_url="https://u"), from_email="a@b.c", one_click_unsubscribe=False)
    assert "List-Unsubscribe-Post" not in mail["headers"]


def test_unsubscribe_goes_inside_the_callers_html_body():
    message = _message(html="<html><body><p>Hi</p></body></html>", unsubscribe_url="https://u")
    assert html_body(message).endswith('<a href="https://u">Unsubscribe</a></p></body></html>')


def test_dynamic_template_mail_has_no_content_and_gets_the_texts_as_data():
    mail = build_mail(
        _message(
            template_id="d-abc",
            template_data={"name": "Ada"},
            unsubscribe_url="https://u",
            progress_done=1,
            progress_total=4,
        ),
        from_email="hi@nudgeflow.dev",
    )
    assert mail["template_id"] == "d-abc"
    assert "content" not in mail and "subject" not in mail
    data = mail["personalizations"][0]["dynamic_template_data"]
    assert data["name"] == "Ada" and data["unsubscribe_url"] == "https://u"
    assert data["progress"] == {"done": 1, "total": 4}
    assert validate_mail(mail) == []


def test_categories_are_deduplicated_and_capped():
    mail = build_mail(_message(categories=[f"c{i}" for i in range(15)] + ["c1"]), from_email="a@b.c")
    assert len(mail["categories"]) == MAX_CATEGORIES


def test_a_message_without_address_cannot_be_built():
    with pytest.raises(ValueError):
        build_mail(_message(to_email=None), from_email="a@b.c")


def _media_message(**overrides) -> OutboundMessage:
    return _message(
        cta={"label": "Connect a source", "url": "https://app.example.com/sources/new?ws=w1&x=<2>"},
        secondary_cta={"label": "Book a call", "url": "https://cal.example.com/cs"},
        links=[{"label": "Help article", "url": "https://docs.example.com/sources"}],
        image={"url": "https://cdn.example.com/sources.png", "alt": 'The "sources" page'},
        **overrides,
    )


def test_html_has_the_primary_cta_as_a_button_the_rest_as_links_and_the_image_with_alt_text():
    mail = build_mail(_media_message(), from_email="hi@nudgeflow.dev")
    html = mail["content"][1]["value"]
    primary = '<a href="https://app.example.com/sources/new?ws=w1&amp;x=&lt;2&gt;" style="display:inline-block'
    assert primary in html and "background:#3b5bdb" in html and ">Connect a source</a>" in html
    assert '<a href="https://cal.example.com/cs" style="display:inline-block' in html and "border:1px solid" in html
    assert '<li><a href="https://docs.example.com/sources">Help article</a></li>' in html
    assert '<img src="https://cdn.example.com/sources.png" alt="The &quot;sources&quot; page"' in html
    assert validate_mail(mail) == []


def test_text_part_lists_every_link_with_its_label():
    text = build_mail(_media_message(), from_email="hi@nudgeflow.dev")["content"][0]["value"]
    assert "Connect a source: https://app.example.com/sources/new?ws=w1&x=<2>" in text
    assert "Book a call: https://cal.example.com/cs" in text
    assert "Help article: https://docs.example.com/sources" in text


def test_dynamic_template_gets_the_structured_cta():
    mail = build_mail(_media_message(template_id="d-123"), from_email="hi@nudgeflow.dev")
    data = mail["personalizations"][0]["dynamic_template_data"]
    assert data["cta"] == {"label": "Connect a source", "url": "https://app.example.com/sources/new?ws=w1&x=<2>"}
    assert data["links"] == [{"label": "Help article", "url": "https://docs.example.com/sources"}]
    assert data["image"]["alt"] == 'The "sources" page'
