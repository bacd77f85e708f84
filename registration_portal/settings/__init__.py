"""Settings package: ``base`` holds everything, ``local``/``test``/``production`` only what differs.

``manage.py`` defaults to ``local`` (the laptop: SQLite file, filesystem broker); the WSGI entry
point and the Docker image default to ``production``, which refuses to start without its secrets.
"""
