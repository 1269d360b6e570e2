"""django-axes hooks: a locked account gets exactly the page any other failure gets."""


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: keep the login view's own (generic) response, so a lock is not an oracle."""
    return original_response
