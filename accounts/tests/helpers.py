"""Jobs with the files a real run leaves in storage, and a search of every table for a text."""

from django.db import connection

from devstack.briefs import headphones_brief
from video_generation.pipeline import create_job
from video_generation.pipeline.handlers import job_path
from video_generation.serializers import VideoGenerationRequestSerializer
from video_generation.services.storage import get_storage

# Where a run writes (pipeline/handlers.py): the image copy, a Veo clip, the joined B-roll, the presenter, the video.
INTERMEDIATE_FILES = ["input/product.png", "veo-c0-s0/attempt-1/sample_0.mp4", "broll.mp4", "presenter.webm"]
FINAL_FILE = "final.mp4"
DELIVERED_FILES = (FINAL_FILE, "final-poster.jpg", "final-preview.mp4")  # the video with its poster and preview


def brief(**changes) -> dict:
    serializer = VideoGenerationRequestSerializer(data={**headphones_brief("https://cdn.example.com/h.jpg"),
                                                        **changes})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def start_job(user, **changes):
    """A job accepted through the pipeline, as the generate endpoint accepts it (its credits held)."""
    return create_job(user=user, data=brief(**changes))


def store_files(job, names=(*INTERMEDIATE_FILES, *DELIVERED_FILES)) -> dict[str, str]:
    """Write the job's files into the configured storage; name -> URI."""
    storage = get_storage()
    return {name: storage.upload_bytes(f"{job.id}:{name}".encode(), job_path(job, name), "video/mp4")
            for name in names}


def rows_containing(text: str) -> list[tuple[str, str]]:
    """(table, column) of every row, in every table of the database, whose column (as text) contains `text`."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                name = connection.ops.quote_name(column.name)
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)} "  # noqa: S608
                               f"WHERE CAST({name} AS TEXT) LIKE %s", [f"%{text}%"])
                if cursor.fetchone()[0]:
                    found.append((table, column.name))
    return found
