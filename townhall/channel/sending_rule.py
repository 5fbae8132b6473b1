"""THE rule of how a post reaches one citizen (docs/architecture.md, "Info channel").

- Language: the post's version in the citizen's language if it has one, else German.
- The citizen's 24-hour window is open (and stays open ``WINDOW_MARGIN`` longer, since a
  post may wait in the queue for a while): free text — the title in bold, the text and the
  post's public link; with an attachment, an image or document message with that caption.
- The window is closed: the post's approved template (in the citizen's language if an
  approved one of the same name exists, else the German one with the German version), with
  the post's content as parameters: {{1}} title, {{2}} text (one line, shortened so the
  body stays within 1,024 characters), {{3}} public link; a text header's {{1}} is the
  title, a dynamic link button ("Mehr lesen") gets the post's public id, a media header the
  post's attachment when it is of the header's kind.
- Closed window and no approved template: the citizen cannot be reached (skipped, counted).

A post with a poll goes as one message that carries the answers, with the poll's question
and options in the language of the version the citizen gets (English texts where staff wrote
them, else the German ones, per text):
- window open: reply buttons (up to three options) or a list (up to ten), the body being
  the title in bold, the text, the link and the question; button and row ids are
  ``poll:<poll id>:<option position>``;
- window closed: the approved poll template for its number of options
  (``CHANNEL["POLL_TEMPLATE"]``, e.g. ``info_kanal_umfrage_5``, buttons "1" … "5"), whatever
  template the post names: {{1}} title, {{2}} text, {{3}} question, {{4}} the numbered options
  on one line, {{5}} link; the quick replies' payloads are the same ids as the buttons'.

The daily summary (citizens who chose it) follows the same rule; see the end of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext, ngettext

from townhall.channel.models import POLL_BUTTONS_MAX_OPTIONS, Poll, PollOption, Post, PostVersion
from townhall.channel.public_queries import absolute_public_url, public_post_url
from townhall.whatsapp import outbound, templates
from townhall.whatsapp.models import MessageTemplate

DEFAULT_LANGUAGE = "de"
# A window closing within this margin counts as closed: the message may wait in the queue.
WINDOW_MARGIN = timedelta(minutes=10)
# Template parameters: Meta refuses newlines, tabs and more than four spaces in a row; the
# body of a template stays under 1,024 characters with a text parameter of this length.
TEMPLATE_TEXT_MAX_CHARS = 700
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
POLL_CHOICE_KIND = "poll"


def public_url(post: Post) -> str:
    return public_post_url(post.public_id)


def version_language(post_languages: set[str], citizen_language: str) -> str:
    """The language version a citizen gets: theirs if the post has it, else German."""
    language = (citizen_language or DEFAULT_LANGUAGE).split("-")[0].lower()
    return language if language in post_languages else DEFAULT_LANGUAGE


def _shortened(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def free_text_body(version: PostVersion, url: str, max_chars: int) -> str:
    head, tail = f"*{version.title}*\n\n", f"\n\n{url}"
    return head + _shortened(version.text, max_chars - len(head) - len(tail)) + tail


def template_message(
    template: MessageTemplate, post: Post, version: PostVersion, url: str
) -> outbound.Template:
    """The template filled with the post: body {{1}} title, {{2}} text, {{3}} link (as many
    as the body has); a text header's {{1}} the title; a dynamic "Mehr lesen" link button
    gets the post's public id; an image/document header the post's attachment if it is of
    that kind (else the template's own)."""
    title = templates.parameter_text(version.title)
    values = [title, "", url][: templates.parameter_count(template.body)]
    if len(values) >= 2:
        # The filled body must stay within Meta's 1,024 characters.
        room = templates.BODY_MAX_CHARS - len(templates.fill_parameters(template.body, values))
        values[1] = _shortened(
            templates.parameter_text(version.text), min(TEMPLATE_TEXT_MAX_CHARS, room)
        )
    header_parameters = [title or "-"][: templates.parameter_count(template.header_text)]
    if template.header_format != MessageTemplate.HeaderFormat.TEXT:
        header_parameters = []
    header_link = ""
    if (
        template.header_format
        in (
            MessageTemplate.HeaderFormat.IMAGE,
            MessageTemplate.HeaderFormat.DOCUMENT,
        )
        and post.attachment
    ):
        kind = _attachment_kind(post)
        if kind == template.header_format:
            header_link = _attachment_link(post)
    has_link_button = any(templates.url_button_is_dynamic(b) for b in template.buttons or [])
    return template.to_outbound(
        body_parameters=[value or "-" for value in values],
        header_parameters=header_parameters,
        url_suffix=post.public_id if has_link_button else "",
        header_link=header_link,
    )


def _attachment_kind(post: Post) -> str:
    suffix = PurePosixPath(post.attachment.name or "").suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "document"


def _attachment_link(post: Post) -> str:
    # The archive's route serves the file while the post is published, which it is from
    # the moment sending starts: Meta fetches it from there.
    return absolute_public_url(reverse("channel_public:attachment", args=[post.public_id]))


def poll_choice_id(poll_id: int | None, position: int) -> str:
    """The id of a poll option's button, list row and template quick-reply payload."""
    return f"{POLL_CHOICE_KIND}:{poll_id or 0}:{position}"


def parse_poll_choice(choice_id: str) -> tuple[int, int] | None:
    """(poll id, option position) of a tapped id, or None when it is not one of ours."""
    kind, _sep, rest = choice_id.partition(":")
    poll_id, _sep, position = rest.partition(":")
    if kind != POLL_CHOICE_KIND or not poll_id.isdigit() or not position.isdigit():
        return None
    return int(poll_id), int(position)


def poll_template_name(option_count: int) -> str:
    return str(settings.CHANNEL["POLL_TEMPLATE"]).format(count=option_count)


def _poll_footer(poll: Poll) -> str:
    if poll.closes_at is None:
        return ""
    closes = formats.date_format(timezone.localtime(poll.closes_at), "d.m. H:i")
    return gettext("Open until %(time)s") % {"time": closes}


def poll_interactive_message(
    version: PostVersion, url: str, poll: Poll, options: list[PollOption]
) -> outbound.ReplyButtons | outbound.ListMessage:
    """The post with its poll for a citizen whose window is open (in the version's language)."""
    language = version.language
    question = f"\n\n*{poll.question_in(language)}*"
    head, tail = f"*{version.title}*\n\n", f"\n\n{url}{question}"
    room = outbound.INTERACTIVE_BODY_MAX_CHARS - len(head) - len(tail)
    body = head + _shortened(version.text, room) + tail
    with translation.override(version.language):
        footer = _poll_footer(poll)
        if len(options) <= POLL_BUTTONS_MAX_OPTIONS:
            buttons = tuple(
                (poll_choice_id(poll.pk, o.position), o.title_in(language)) for o in options
            )
            return outbound.ReplyButtons(body, buttons, footer=footer)
        rows = tuple(
            outbound.ListRow(poll_choice_id(poll.pk, o.position), o.title_in(language))
            for o in options
        )
        return outbound.ListMessage(
            body,
            gettext("Choose an answer"),
            (outbound.ListSection("", rows),),
            footer=footer,
        )


def poll_options_line(options: list[PollOption], language: str) -> str:
    return " · ".join(f"{option.position} = {option.title_in(language)}" for option in options)


def poll_template_message(
    template: MessageTemplate,
    version: PostVersion,
    url: str,
    poll: Poll,
    options: list[PollOption],
) -> outbound.Template:
    """The poll template filled with the post: {{1}} title, {{2}} text, {{3}} question,
    {{4}} numbered options (in the version's language), {{5}} link; a quick-reply button
    per option."""
    values = [
        templates.parameter_text(version.title) or "-",
        "",
        templates.parameter_text(poll.question_in(version.language)) or "-",
        templates.parameter_text(poll_options_line(options, version.language)) or "-",
        url,
    ][: templates.parameter_count(template.body)]
    if len(values) >= 2:
        room = templates.BODY_MAX_CHARS - len(templates.fill_parameters(template.body, values))
        values[1] = (
            _shortened(templates.parameter_text(version.text), min(TEMPLATE_TEXT_MAX_CHARS, room))
            or "-"
        )
    return template.to_outbound(
        body_parameters=values,
        quick_reply_payloads=[poll_choice_id(poll.pk, option.position) for option in options],
    )


def free_text_message(post: Post, version: PostVersion, url: str) -> outbound.OutboundMessage:
    if not post.attachment:
        return outbound.Text(
            free_text_body(version, url, outbound.TEXT_MAX_CHARS), preview_url=True
        )
    caption = free_text_body(version, url, outbound.CAPTION_MAX_CHARS)
    link = _attachment_link(post)
    if _attachment_kind(post) == "image":
        return outbound.Media("image", link=link, caption=caption)
    name = PurePosixPath(post.attachment.name or "").name
    return outbound.Media("document", link=link, caption=caption, filename=name)


@dataclass(frozen=True)
class PostSender:
    """The post's messages, built once per fan-out: at most two per language."""

    post: Post
    versions: dict[str, PostVersion]
    # Approved templates by language (the post's own and same-named ones in other languages).
    templates: dict[str, MessageTemplate]
    url: str
    poll: Poll | None = None
    options: tuple[PollOption, ...] = ()

    @classmethod
    def for_post(cls, post: Post) -> PostSender:
        versions = {version.language: version for version in post.versions.all()}
        poll = post_poll(post)
        options = tuple(poll.options.all()) if poll is not None else ()
        name = template_name_for(post, len(options) if poll is not None else None)
        templates: dict[str, MessageTemplate] = {}
        if name:
            for template in MessageTemplate.objects.filter(
                name=name, status=MessageTemplate.Status.APPROVED
            ).order_by("pk"):
                templates.setdefault(template.language.split("_")[0].lower(), template)
        return cls(post, versions, templates, public_url(post), poll, options)

    @property
    def can_use_template(self) -> bool:
        return bool(self.templates)

    def choose(self, citizen_language: str, *, window_open: bool) -> tuple[str, bool] | None:
        """(language version, as template) for a citizen; None = cannot be reached."""
        language = version_language(set(self.versions), citizen_language)
        if window_open:
            return language, False
        if not self.templates:
            return None
        if language not in self.templates:
            language = DEFAULT_LANGUAGE
            if language not in self.templates:
                language = next(iter(self.templates))
                if language not in self.versions:
                    language = DEFAULT_LANGUAGE
        return language, True

    def message(self, language: str, *, as_template: bool) -> outbound.OutboundMessage:
        version = self.versions[language]
        if as_template:
            template = self.templates.get(language) or next(iter(self.templates.values()))
            if self.poll is not None:
                return poll_template_message(
                    template, version, self.url, self.poll, list(self.options)
                )
            return template_message(template, self.post, version, self.url)
        if self.poll is not None:
            return poll_interactive_message(version, self.url, self.poll, list(self.options))
        return free_text_message(self.post, version, self.url)


def post_poll(post: Post) -> Poll | None:
    if post.pk is None:
        return None
    return Poll.objects.filter(post=post).first()


def template_name_for(post: Post, poll_option_count: int | None) -> str:
    """The name of the template a post goes as to closed windows: the poll template for a
    post with a poll, else the template the post names ("" = none)."""
    if poll_option_count is not None:
        return poll_template_name(poll_option_count)
    if post.template is not None and post.template.is_sendable:
        return post.template.name
    return ""


def audience_template(post: Post) -> MessageTemplate | None:
    """The approved template the post goes as to closed windows (German first), for the
    audience plan, the cost estimate and the messaging limit."""
    poll = post_poll(post)
    if poll is None:
        return post.template
    return poll_template(poll.options.count())


def poll_template(option_count: int) -> MessageTemplate | None:
    """The approved poll template for that many options (German first), or None."""
    found = list(
        MessageTemplate.objects.filter(
            name=poll_template_name(option_count), status=MessageTemplate.Status.APPROVED
        ).order_by("pk")
    )
    german = [t for t in found if t.language.split("_")[0].lower() == DEFAULT_LANGUAGE]
    return next(iter(german or found), None)


def message_for(
    post: Post, *, language: str, window_open: bool, url: str
) -> outbound.OutboundMessage:
    """The message for a citizen of ``language`` (window open or not), following the rule
    above. Raises ``ValueError`` when the citizen cannot be reached (closed window, no
    approved template)."""
    sender = PostSender.for_post(post)
    sender = PostSender(
        sender.post, sender.versions, sender.templates, url, sender.poll, sender.options
    )
    choice = sender.choose(language, window_open=window_open)
    if choice is None:
        raise ValueError("the window is closed and the post has no approved template")
    chosen_language, as_template = choice
    return sender.message(chosen_language, as_template=as_template)


# --- the daily summary ---------------------------------------------------------------------------
# The same rule for the summary of a day's normal posts (citizens who chose it): free text
# inside the window, else the approved summary template (CHANNEL["DIGEST_TEMPLATE"], in the
# citizen's language if approved in it, else German), else nothing. Each post appears with
# its title in the language the citizen gets and its public link.

# More than this many posts a day are not listed one by one; the archive link follows.
DIGEST_MAX_POSTS = 15


@dataclass(frozen=True)
class DigestEntry:
    title: str
    url: str


def digest_entries(posts: list[Post], language: str) -> list[DigestEntry]:
    """The posts' titles in ``language`` (else German) with their public links; ``posts``
    have their versions prefetched."""
    entries = []
    for post in posts:
        versions = {version.language: version for version in post.versions.all()}
        version = versions.get(version_language(set(versions), language)) or next(
            iter(versions.values())
        )
        entries.append(DigestEntry(version.title, public_url(post)))
    return entries


def _digest_date(day: date, language: str) -> str:
    with translation.override(language):
        return formats.date_format(day, "DATE_FORMAT")


def _archive_url() -> str:
    return absolute_public_url(reverse("channel_public:list"))


def digest_free_text(day: date, entries: list[DigestEntry], language: str) -> outbound.Text:
    listed, rest = entries[:DIGEST_MAX_POSTS], len(entries) - DIGEST_MAX_POSTS
    with translation.override(language):
        lines = [
            "*"
            + gettext("Your daily summary of %(date)s") % {"date": _digest_date(day, language)}
            + "*",
            "",
        ]
        for number, entry in enumerate(listed, start=1):
            title = _shortened(entry.title, 200)
            lines.append(f"{number}. {title}\n{entry.url}")
        if rest > 0:
            lines.append(
                ngettext(
                    "… and %(count)d more post: %(url)s",
                    "… and %(count)d more posts: %(url)s",
                    rest,
                )
                % {"count": rest, "url": _archive_url()}
            )
        lines += [
            "",
            gettext(
                "Urgent alerts still come at once. ALLES: every post at once, NUR DRINGEND: "
                "urgent alerts only."
            ),
        ]
    return outbound.Text(_shortened("\n".join(lines), outbound.TEXT_MAX_CHARS), preview_url=False)


def digest_template_message(
    template: MessageTemplate, day: date, entries: list[DigestEntry], language: str
) -> outbound.Template:
    """The summary template: body {{1}} the date, {{2}} the posts on one line (title: link,
    numbered), shortened so the filled body stays within Meta's 1,024 characters."""
    date_text = _digest_date(day, language)
    listing = " · ".join(
        f"{number}) {templates.parameter_text(entry.title)}: {entry.url}"
        for number, entry in enumerate(entries[:DIGEST_MAX_POSTS], start=1)
    )
    if len(entries) > DIGEST_MAX_POSTS:
        listing += f" · … {_archive_url()}"
    values = [date_text, listing][: templates.parameter_count(template.body)]
    if len(values) >= 2:
        room = templates.BODY_MAX_CHARS - len(templates.fill_parameters(template.body, values))
        values[1] = _shortened(listing, len(listing) + min(room, 0))
    return template.to_outbound(body_parameters=[value or "-" for value in values])


@dataclass(frozen=True)
class DigestSender:
    """The summary messages of one day, built once per distinct (language, posts, kind)."""

    day: date
    # Approved summary templates by language.
    templates: dict[str, MessageTemplate]

    @classmethod
    def for_day(cls, day: date) -> DigestSender:
        found: dict[str, MessageTemplate] = {}
        for template in MessageTemplate.objects.filter(
            name=settings.CHANNEL["DIGEST_TEMPLATE"], status=MessageTemplate.Status.APPROVED
        ).order_by("pk"):
            found.setdefault(template.language.split("_")[0].lower(), template)
        return cls(day, found)

    def choose(self, citizen_language: str, *, window_open: bool) -> tuple[str, bool] | None:
        """(language, as template) for a citizen; None = cannot be reached."""
        supported = {code for code, _name in settings.LANGUAGES}
        language = version_language(supported, citizen_language)
        if window_open:
            return language, False
        if language in self.templates:
            return language, True
        if DEFAULT_LANGUAGE in self.templates:
            return DEFAULT_LANGUAGE, True
        return None

    def message(
        self, language: str, posts: list[Post], *, as_template: bool
    ) -> outbound.OutboundMessage:
        entries = digest_entries(posts, language)
        if as_template:
            return digest_template_message(self.templates[language], self.day, entries, language)
        return digest_free_text(self.day, entries, language)
