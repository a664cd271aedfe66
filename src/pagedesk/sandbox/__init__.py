"""A local emulator of the Messenger part of Meta's Graph API.

``create_app()`` (in :mod:`pagedesk.sandbox.app`) returns a Starlette app that
answers like ``graph.facebook.com`` (Send API, profiles, personas, Messenger
profile, subscriptions, thread control), plays simulated customers through the
``/_sandbox/`` control endpoints and the customer phone page, and delivers
signed webhooks to one configured callback URL.
"""
