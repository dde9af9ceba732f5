"""Starling's platform-neutral core: what features program against.

Events, the message model, the router (routes, subcommands, middleware, context), i18n, the job and
schedule API with its time maths, metrics, and the service protocols (directory, language model, clock).
Nothing here knows Slack, Teams, the console, the web server or the CLI; ``handlers/`` imports only this
package and ``storage``.
"""
