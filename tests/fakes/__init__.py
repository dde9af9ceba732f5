"""Local fake servers for Slack, Microsoft Teams (Bot Framework Connector) and OpenAI, for tests.

Each fake binds 127.0.0.1 on a free port, speaks the real HTTP protocol and records every request.
"""

from .bot_connector import ADAPTIVE_CARD, FakeBotConnector
from .openai_api import FakeOpenAI, default_responder, embed_text
from .signing import sign_slack_request, slack_form_body, slack_interactive_body, slack_signed_headers
from .slack_api import FakeHTTPServer, FakeSlackAPI, Recorded, Selector

__all__ = [
    "ADAPTIVE_CARD",
    "FakeBotConnector",
    "FakeHTTPServer",
    "FakeOpenAI",
    "FakeSlackAPI",
    "Recorded",
    "Selector",
    "default_responder",
    "embed_text",
    "sign_slack_request",
    "slack_form_body",
    "slack_interactive_body",
    "slack_signed_headers",
]
