"""pagedesk: a self-hosted team inbox and growth toolkit for Facebook Messenger."""

__version__ = "0.1.0"
