using System.Diagnostics;

namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>Polls a condition until it holds or a deadline passes; the failure says what was expected and what was last seen.</summary>
internal static class Eventually
{
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);

    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string expectation)
    {
        var watch = Stopwatch.StartNew();
        T last;
        Exception? error = null;
        while (true)
        {
            try
            {
                last = await probe();
                if (condition(last))
                {
                    return last;
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                last = default!;
                error = e;
            }

            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"expected within {timeout.TotalSeconds:0}s: {expectation}; last seen: {Describe(last)}{(error is null ? "" : $" ({error.Message})")}");
            }

            await Task.Delay(Pause, TestContext.Current.CancellationToken);
        }
    }

    public static Task Until(Func<bool> condition, TimeSpan timeout, string expectation) =>
        Until(() => Task.FromResult(condition()), ok => ok, timeout, expectation);

    private static string Describe<T>(T value) => value switch
    {
        null => "nothing",
        System.Collections.IEnumerable items and not string => "[" + string.Join(", ", items.Cast<object?>()) + "]",
        _ => value.ToString() ?? "",
    };
}
