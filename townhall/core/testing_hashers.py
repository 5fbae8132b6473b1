"""A password hasher for the test suite only (installed by ``core/pytest_plugin.py``).

Django's PBKDF2 runs 1,000,000 iterations, ~0.4 s of CPU per hash on a small machine, and
the suite creates and logs in hundreds of users. This is the same algorithm under the same
name with few iterations, so the hashes it writes are still checked by the unchanged
hasher, e.g. in the web server and worker processes an end-to-end test starts.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1_000
