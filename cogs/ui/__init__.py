"""Shared Discord building blocks for the cogs: wording, embeds and views."""
