using Flotilla.Proxy.FastPath;
using Microsoft.Extensions.Options;

namespace Flotilla.Tests.Proxy.FastPath;

public sealed class EventLoopCountTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(8, 4)]
    public void Unset_HalfTheCores_AtLeastOne(int cores, int expected) =>
        Assert.Equal(expected, FastPathForwarder.EventLoopCount(null, cores));

    [Fact]
    public void Set_TakesTheValue() => Assert.Equal(3, FastPathForwarder.EventLoopCount("3", cores: 2));

    [Theory]
    [InlineData("0")]
    [InlineData("257")]
    [InlineData("-1")]
    [InlineData("two")]
    [InlineData(" 2")]
    public void Invalid_IsRefusedWithTheVariableAndValue(string value)
    {
        var error = Assert.Throws<OptionsValidationException>(() => FastPathForwarder.EventLoopCount(value, cores: 2));
        Assert.Equal($"FLOTILLA_EVENT_LOOPS={value}: must be a whole number from 1 to 256", error.Message);
    }
}
