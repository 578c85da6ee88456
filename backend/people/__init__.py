"""People: accounts with passwords, and the tokens GenFlow issues to them and to services.

Every token carries an id (its `jti`) recorded in the store, so every token that works can
be listed and revoked; `tokens.TokenService` checks that on every request.
"""
