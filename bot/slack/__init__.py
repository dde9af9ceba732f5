"""Slack: the Bolt adapter (HTTP and Socket Mode), Block Kit rendering, directory and outbox sender."""
