"""Build the SendGrid v3 Mail for one `OutboundMessage` (pure: no I/O).

Separate from the adapter so the payload can be tested and reviewed on its own.
Every mail carries `delivery_id` and `user_id` as custom_args: SendGrid echoes
custom_args in its event webhook, which is how delivered/bounced/opened events
find their way back to the decision.
"""

from __future__ import annotations

import html as html_lib
from typing import Any

from sendgrid.helpers.mail import Category, CustomArg, From, Header, Mail, To

from nudgeflow.channels.base import OutboundMessage

MAX_CATEGORIES = 10  # SendGrid rejects more than 10 categories per message


def build_mail(
    message: OutboundMessage, *, from_email: str, from_name: str | None = None, one_click_unsubscribe: bool = True
) -> dict[str, Any]:
    """Return the JSON body for POST /v3/mail/send.

    With `template_id` the dynamic template renders subject and content (it gets
    title, body, unsubscribe_url, cta ({label, url}), secondary_cta, links and image next to
    `template_data`); otherwise the mail has a text/plain and a text/html part (the CTA as a
    button, the image with its alt text), both ending in the unsubscribe link.
    """
    if not message.to_email:
        raise ValueError("message has no to_email")
    sender = From(from_email, from_name)
    recipient = To(message.to_email)
    if message.template_id:
        mail = Mail(from_email=sender, to_emails=recipient)
        mail.template_id = message.template_id
        mail.dynamic_template_data = _template_data(message)
    else:
        mail = Mail(
            from_email=sender,
            to_emails=recipient,
            subject=message.title,
            plain_text_content=plain_text(message),
            html_content=html_body(message),
        )
    args = {**message.custom_args, "delivery_id": message.delivery_id, "user_id": message.user_id, "kind": message.kind}
    mail.custom_arg = [CustomArg(key, str(value)) for key, value in args.items()]
    categories = list(dict.fromkeys(c for c in message.categories if c))[:MAX_CATEGORIES]
    if categories:
        mail.category = [Category(c) for c in categories]
    if message.unsubscribe_url:
        headers = [Header("List-Unsubscribe", f"<{message.unsubscribe_url}>")]
        if one_click_unsubscribe:
            # RFC 8058: the URL must accept a POST without further interaction.
            headers.append(Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        mail.header = headers
    payload: dict[str, Any] = mail.get()
    return payload


def plain_text(message: OutboundMessage) -> str:
    """The body, then every link as `label: url` (text-only mail clients show bare URLs)."""
    parts = [message.body]
    links = [link for link in (message.cta, message.secondary_cta) if link] + message.links
    if links:
        parts.append("\n".join(f"{link.label}: {link.url}" for link in links))
    if message.unsubscribe_url:
        parts.append(f"Unsubscribe: {message.unsubscribe_url}")
    return "\n\n".join(parts)


def html_body(message: OutboundMessage) -> str:
    """The caller's HTML, or a minimal rendering of the text body; unsubscribe link appended."""
    if message.html:
        body = message.html
    else:
        paragraphs = "".join(f"<p>{html_lib.escape(p)}</p>" for p in message.body.split("\n\n") if p)
        body = f"<h1>{html_lib.escape(message.title)}</h1>{image_html(message)}{paragraphs}{links_html(message)}"
    if not message.unsubscribe_url:
        return body
    footer = (
        f'<p style="font-size:12px;color:#666">'
        f'<a href="{html_lib.escape(message.unsubscribe_url, quote=True)}">Unsubscribe</a></p>'
    )
    marker = body.lower().rfind("</body>")
    if marker == -1:
        return body + footer
    return body[:marker] + footer + body[marker:]


# Inline styles: mail clients drop <style> blocks. A table cell keeps the button's padding in Outlook.
PRIMARY_STYLE = (
    "display:inline-block;padding:12px 20px;border-radius:6px;background:#3b5bdb;color:#ffffff;"
    "font-weight:600;text-decoration:none"
)
SECONDARY_STYLE = (
    "display:inline-block;padding:11px 19px;border-radius:6px;border:1px solid #3b5bdb;color:#3b5bdb;"
    "font-weight:600;text-decoration:none"
)


def _attr(value: str) -> str:
    return html_lib.escape(value, quote=True)


def image_html(message: OutboundMessage) -> str:
    if message.image is None:
        return ""
    return (
        f'<p><img src="{_attr(message.image.url)}" alt="{_attr(message.image.alt)}" '
        'style="max-width:100%;height:auto;border:0"></p>'
    )


def _anchor(url: str, label: str, style: str) -> str:
    return f'<a href="{_attr(url)}" style="{style}">{html_lib.escape(label)}</a>'


def links_html(message: OutboundMessage) -> str:
    """The primary CTA as a button, the secondary as an outlined one, other links as plain links."""
    buttons = [
        f'<td style="padding:0 8px 0 0">{_anchor(link.url, link.label, style)}</td>'
        for link, style in ((message.cta, PRIMARY_STYLE), (message.secondary_cta, SECONDARY_STYLE))
        if link is not None
    ]
    out = ""
    if buttons:
        out += f'<table role="presentation" cellspacing="0" cellpadding="0"><tr>{"".join(buttons)}</tr></table>'
    if message.links:
        items = "".join(
            f'<li><a href="{_attr(link.url)}">{html_lib.escape(link.label)}</a></li>' for link in message.links
        )
        out += f"<ul>{items}</ul>"
    return out


def _template_data(message: OutboundMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"title": message.title, "body": message.body}
    if message.unsubscribe_url:
        data["unsubscribe_url"] = message.unsubscribe_url
    if message.cta:
        data["cta_url"] = message.cta.url
    for name in ("cta", "secondary_cta", "image"):
        if (value := getattr(message, name)) is not None:
            data[name] = value.model_dump()
    if message.links:
        data["links"] = [link.model_dump() for link in message.links]
    if message.progress_total is not None:
        data["progress"] = {"done": message.progress_done or 0, "total": message.progress_total}
    data.update(message.template_data)
    return data
