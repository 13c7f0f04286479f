"""The police workspace's web pages (Chinese, server-rendered with Jinja2) and its search API."""
