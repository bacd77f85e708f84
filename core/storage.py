"""The private file storage, resolved lazily so settings changes (tests) are honoured.

A FileField evaluates a callable ``storage`` once, at import; handing it this lazy proxy means
the actual backend is looked up in ``STORAGES["private"]`` on first use and again after the
setting changes.
"""

from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty


class PrivateStorage(LazyObject):
    def _setup(self):
        self._wrapped = storages["private"]


private_storage = PrivateStorage()


def get_private_storage():
    return private_storage


@receiver(setting_changed)
def _reset_on_storages_change(*, setting, **kwargs):
    if setting == "STORAGES":
        storages._storages = {}
        private_storage._wrapped = empty
