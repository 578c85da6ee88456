from tests.harness import Harness


async def test_article_job_completes_with_a_markdown_artifact(harness: Harness) -> None:
    job = await harness.create("article", {"topic": "coffee"})
    done = await harness.wait_for(job["id"])
    assert done["status"] == "completed", done["error"]
    assert done["result"]["title"] == "Coffee, a history"
    response = await harness.client.get(
        f"/api/artifacts/{done['result']['artifact_id']}", headers=harness.headers()
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert (await response.get_data(as_text=True)).startswith("# Coffee, a history")
