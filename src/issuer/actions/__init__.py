"""Post-login and credentials-exchange actions: loading, the runtime, the ``event`` and
``api`` objects, capture, claim rules."""
