"""Pictures: chart collages, taste match cards and bar charts drawn with Pillow, and the one safe image fetcher.

May import config, utils.models, utils.errors, utils.logger, utils.listening and the database front door; never
discord or a cog (utils.music and utils.community services are passed in, not imported).
"""
